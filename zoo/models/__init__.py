"""The model families, one module each; `zoo.registry` imports every module here."""
