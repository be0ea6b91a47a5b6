import glob
from tokcost.parse import load_model
from tokcost.presets import ModelPreset, HardwarePreset, unsourced_fields
for f in sorted(glob.glob('models/*.yaml')):
    m,_=load_model(ModelPreset,f); print(m.id, unsourced_fields(m))
for f in sorted(glob.glob('hardware/*.yaml')):
    m,_=load_model(HardwarePreset,f); print(m.id, unsourced_fields(m))
