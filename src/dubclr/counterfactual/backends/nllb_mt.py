"""Text translation with NLLB-200 through transformers."""

from __future__ import annotations

import functools

from dubclr.counterfactual.backends.hub import require_hf_model
from dubclr.counterfactual.config import TranslateConfig
from dubclr.counterfactual.languages import nllb_code


def require(cfg: TranslateConfig) -> None:
    require_hf_model(cfg.nllb_model, "translate.backend 'nllb'")


@functools.lru_cache(maxsize=1)
def _load(repo: str, device: str):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    path = require_hf_model(repo, "translate.backend 'nllb'")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).to(device).eval()
    return tokenizer, model


def translate(texts: list[str], source: str, target: str, cfg: TranslateConfig) -> list[str]:
    import torch

    if not texts:
        return []
    tokenizer, model = _load(cfg.nllb_model, cfg.device)
    tokenizer.src_lang = nllb_code(source)
    batch = tokenizer(texts, return_tensors="pt", padding=True).to(cfg.device)
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=256,
                             forced_bos_token_id=tokenizer.convert_tokens_to_ids(nllb_code(target)))
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]
