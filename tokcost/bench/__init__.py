"""`tokcost bench`: measure a real Llama-style decoder and the copy/matmul ceilings on this machine, fit the cost
model's efficiencies to the measurements, and write a calibration file (:mod:`tokcost.calibration`).

Only :mod:`tokcost.bench.fit` and :mod:`tokcost.bench.report` are importable without torch; everything that
touches torch is imported by the ``bench`` command body, never at CLI start-up.
"""
