"""Evaluation: clip windows, embedding of media folders, frozen-feature probes, the toy
benchmark and cross-language retrieval. The HEAR API lives in :mod:`dubclr.hear`."""
