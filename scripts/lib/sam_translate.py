"""Translates template.yaml to plain CloudFormation offline, so that cfn-lint
can check what SAM generates (a policy template's !Ref to a missing resource,
a wrong runtime or architecture) and not just the SAM source.

Usage: sam_translate.py TEMPLATE OUT_JSON   (AWS_DEFAULT_REGION must be set)
"""

import json
import sys

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names no managed policies, so nothing needs looking up."""

    def load(self):
        return {}


def main() -> int:
    source, out = sys.argv[1], sys.argv[2]
    with open(source) as f:
        template, problems = decode_str(f.read())
    if problems:
        for p in problems:
            print(p)
        return 1
    # Plain JSON types, intrinsic functions as {"Ref": ...} objects.
    template = json.loads(json.dumps(template, default=str))
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            # What `sam package` would put here after uploading the build.
            resource["Properties"]["CodeUri"] = "s3://scim-lambda-artifacts/function.zip"
    translated = transform(template, {}, NoManagedPolicies())
    with open(out, "w") as f:
        json.dump(translated, f, indent=1)
    print(f"translated {source} to {out}: {len(translated.get('Resources', {}))} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
