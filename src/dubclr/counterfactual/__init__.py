"""Synthetic counterfactual dubs (paper section 6): give single-track videos dubbed tracks.

separate -> transcribe -> translate -> synthesize -> align -> voice -> master -> remix -> mux,
each stage cached by content and parameters under ``OUT/cache``; see :mod:`.pipeline`.
"""

from dubclr.counterfactual.config import CounterfactualConfig, load_counterfactual_config
from dubclr.counterfactual.pipeline import RunSummary, run_pipeline

__all__ = ["CounterfactualConfig", "RunSummary", "load_counterfactual_config", "run_pipeline"]
