"""Token-by-token autoregressive generation (Emu3, Chameleon, LlamaGen, Janus-Pro, Lumina-mGPT): a decoder-only
transformer predicts one discrete visual token per forward."""

from tokcost.records.families import FamilySchema

SCHEMA = FamilySchema(
    name="ar",
    label="autoregressive",
    noun="an AR model",
    requires=("architecture", "tokenizer", "sampling"),
    size_section="tokenizer",
    validation_family="ar",
    trains_on="tokens",
    perception=True,
    kv_cache=True,
    bench_decoder=True,
    fitted=True,
)
