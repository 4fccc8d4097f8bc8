"""Validates a Kubernetes manifest offline against the Kubernetes JSON
schemas that the kubernetes-validate package ships (strict: unknown fields
are errors), and prints it as JSON for the Rust test to check further.

Usage: validate.py MANIFEST [START_AT]   (START_AT replaces __START_AT__)
Exit 0 valid, 1 invalid (the reason on stderr), 3 the validator is missing.
"""
import json
import sys

try:
    import kubernetes_validate
    import yaml
except ImportError as e:  # scripts/test installs it
    print(f"kubernetes-validate is not installed ({e}): pip install kubernetes-validate", file=sys.stderr)
    sys.exit(3)

text = open(sys.argv[1]).read()
if len(sys.argv) > 2:
    text = text.replace("__START_AT__", sys.argv[2])
docs = [d for d in yaml.safe_load_all(text) if d]
for doc in docs:
    try:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as e:
        print(f"{sys.argv[1]}: {doc.get('kind')}: {e.message} at {'.'.join(str(p) for p in e.path)}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # the package's other refusals (unknown kind or version)
        print(f"{sys.argv[1]}: {doc.get('kind')}: {e}", file=sys.stderr)
        sys.exit(1)
print(json.dumps(docs))
