#!/usr/bin/env python3
"""Does what `sam deploy` has CloudFormation do to template.yaml before it
creates anything, without AWS: the rest of the AWS::LanguageExtensions
transform (the parts this template can use besides Fn::ForEach: Fn::If on
conditions of parameters only, AWS::NoValue), then the real
AWS::Serverless-2016-10-31 transform (aws-sam-translator) on the template
as `sam package` leaves it (each CodeUri an s3:// URI).

usage: translate.py CASES_JSON OUTDIR

CASES_JSON is a list of {"name": ..., "region": ..., "params": {...},
"template": ..., "clock": ...}: the parameter values of one deploy (missing
ones take their defaults), its region, and the template to deploy with its
Fn::ForEach loops already expanded for those values (by
tools/samtemplate's ExpandForEach: one expander for every tool); clock,
if given, is the Unix time of the deploy, which SAM reads for an API with
AlwaysDeploy (the name of its deployment). For each
case it writes, in OUTDIR/<name>/, packaged.json (the template after the
language extensions: what the SAM transform reads) and either
translated.json (the CloudFormation that would be created) or errors.txt
(the transform's messages, one a line). Exit status: 0 done; 2 missing
Python packages or bad usage (stderr). One process does every case:
starting Python and importing the translator is most of the time.
tools/samtemplate/deploy_test.go runs it from `make test`.
"""

import copy
import json
import os
import re
import sys
import time
import types

try:
    import samtranslator.model.apigateway as apigateway
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
except ImportError as e:  # the Go test skips on exit status 2
    print(f"translate.py: {e}: pip install aws-sam-translator cfn-lint", file=sys.stderr)
    sys.exit(2)

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
SERVERLESS = "AWS::Serverless-2016-10-31"
NO_VALUE = {"Ref": "AWS::NoValue"}


class PolicyLoader:
    """The managed policies the SAM transform may look up by name. The
    template names none (every function has an inline policy), so an
    empty map is what `sam deploy` would see for this template."""

    def load(self):
        return {}


def parameter_values(template, overrides):
    values = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise SystemExit(f"translate.py: parameter {name} has no default and no value")
    unknown = set(overrides) - set(values)
    if unknown:
        raise SystemExit(f"translate.py: no such parameters: {sorted(unknown)}")
    return values


class Conditions:
    """Evaluates the conditions that depend on parameters only: those are
    what AWS::LanguageExtensions resolves before the SAM transform runs."""

    def __init__(self, template, params):
        self.exprs = template.get("Conditions") or {}
        self.params = params
        self.cache = {}

    def value(self, name):
        """True/False, or None when the condition needs more than parameters."""
        if name not in self.cache:
            self.cache[name] = None  # a cycle resolves to "unknown"
            self.cache[name] = self.eval(self.exprs[name])
        return self.cache[name]

    def eval(self, expr):
        if not isinstance(expr, dict) or len(expr) != 1:
            return None
        (fn, arg), = expr.items()
        if fn == "Condition":
            return self.value(arg)
        if fn == "Fn::Not":
            v = self.eval(arg[0])
            return None if v is None else not v
        if fn in ("Fn::And", "Fn::Or"):
            vals = [self.eval(a) for a in arg]
            if None in vals:
                return None
            return all(vals) if fn == "Fn::And" else any(vals)
        if fn == "Fn::Equals":
            a, b = (self.scalar(x) for x in arg)
            return None if a is None or b is None else a == b
        return None

    def scalar(self, v):
        """A literal, a Ref to a parameter, an Fn::Sub of parameters, or an
        Fn::Select of an Fn::Split of those; None for anything else."""
        if isinstance(v, dict) and len(v) == 1:
            (fn, arg), = v.items()
            if fn == "Ref":
                return self.params.get(arg) if isinstance(arg, str) else None
            if fn == "Fn::Sub" and isinstance(arg, str):
                names = re.findall(r"\$\{([^}!][^}]*)\}", arg)
                if not all(n in self.params for n in names):
                    return None
                return re.sub(r"\$\{([^}!][^}]*)\}", lambda m: self.params[m.group(1)], arg)
            if fn == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
                split = arg[1].get("Fn::Split") if isinstance(arg[1], dict) else None
                if not (isinstance(split, list) and len(split) == 2):
                    return None
                s = self.scalar(split[1])
                items = None if s is None else s.split(str(split[0]))
                i = int(arg[0])
                return items[i] if items is not None and 0 <= i < len(items) else None
            return None
        if isinstance(v, dict):
            return None
        return str(v).lower() if isinstance(v, bool) else str(v)


def resolve(node, conds):
    """Resolves Fn::If on parameter-only conditions and drops AWS::NoValue."""
    if isinstance(node, dict):
        if len(node) == 1 and "Fn::If" in node:
            name, yes, no = node["Fn::If"]
            v = conds.value(name)
            if v is not None:
                return resolve(yes if v else no, conds)
            # Left to CloudFormation (a condition of the region): a branch
            # that is AWS::NoValue stays one.
            return {"Fn::If": [name, resolve(yes, conds), resolve(no, conds)]}
        if any(isinstance(k, str) and k.startswith("Fn::ForEach::") for k in node):
            raise SystemExit("translate.py: Fn::ForEach left in the template; expand it first (samtemplate.ExpandForEach)")
        out = {}
        for k, v in node.items():
            r = resolve(v, conds)
            if r != NO_VALUE:
                out[k] = r
        return out
    if isinstance(node, list):
        return [r for r in (resolve(v, conds) for v in node) if r != NO_VALUE]
    return node


def language_extensions(template, params):
    t = resolve(copy.deepcopy(template), Conditions(template, params))
    transforms = t.get("Transform")
    if isinstance(transforms, str):
        transforms = [transforms]
    t["Transform"] = [x for x in transforms or [] if x != LANGUAGE_EXTENSIONS]
    return t


def package(template):
    """Rewrites each local CodeUri as `sam package` does: an s3:// URI."""
    for name, res in (template.get("Resources") or {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            props = res.setdefault("Properties", {})
            props["CodeUri"] = f"s3://hitcounter-artifacts/hitcounter/{name}.zip"


def translate(template, case, outdir):
    os.environ["AWS_DEFAULT_REGION"] = case["region"]  # the transform's region
    if "clock" in case:  # the time of the deploy, as SAM's deployment hash sees it
        apigateway.time = types.SimpleNamespace(time=lambda: case["clock"])
    else:
        apigateway.time = time
    params = parameter_values(template, case.get("params") or {})
    packaged = language_extensions(template, params)
    package(packaged)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "packaged.json"), "w") as f:
        json.dump(packaged, f, indent=1)
    try:
        translated = transform(copy.deepcopy(packaged), params, PolicyLoader())
    except InvalidDocumentException as e:
        with open(os.path.join(outdir, "errors.txt"), "w") as f:
            f.writelines(cause.message + "\n" for cause in e.causes)
        return
    with open(os.path.join(outdir, "translated.json"), "w") as f:
        json.dump(translated, f, indent=1)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cases_json, outdir = argv[1:]
    for case in json.loads(cases_json):
        with open(case["template"]) as f:
            template = yaml_parse(f.read())
        translate(template, case, os.path.join(outdir, case["name"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
