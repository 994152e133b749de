"""The runtime environment: what the machine is (detect), what .thoth.yaml says (config), the merge (runtime)."""
