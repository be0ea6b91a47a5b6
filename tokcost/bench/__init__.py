"""`tokcost bench`: measure a real Llama-style decoder and the copy/matmul ceilings on this machine, fit the cost
model's efficiencies to the measurements, and write a calibration file (:mod:`tokcost.records.calibration`,
written by :mod:`tokcost.io.calibration`).

Only :mod:`tokcost.bench.calibrate` and :mod:`tokcost.render.bench` are importable without torch; everything that
touches torch is imported by the ``bench`` command body, never at CLI start-up.
"""
