"""Load and validate an experiment configuration.

JSON-Schema (``schemas/config.schema.yaml``) checks types, ranges and unknown keys and fills
defaults; ``check_semantics`` adds what a schema cannot say (which languages a corpus serves,
which Bible editions exist). Every error names the key and the allowed values, and is raised
before any job starts.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import yaml

from .languages import BIBLE_EDITIONS, Pair, corpus_languages, default_bible_editions
from .readings import defaults
from .sites import STACKS, site_error

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is allowed."""


def load_schema(path: Path | str = SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _with_defaults(validator_class):
    """Extend a validator so that ``properties`` fill in missing keys from their defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _strict_integers(validator_class):
    """JSON-Schema counts 512.0 as an integer; the trainer would not: integers are Python ints."""
    checker = validator_class.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    return jsonschema.validators.extend(validator_class, type_checker=checker)


_DefaultFillingValidator = _with_defaults(_strict_integers(jsonschema.Draft202012Validator))


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _allowed(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        return "allowed keys: " + ", ".join(sorted(schema.get("properties", {})))
    if error.validator == "enum":
        return "allowed values: " + ", ".join(map(repr, schema["enum"]))
    bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    if any(b in schema for b in bounds):
        low = f"({schema['exclusiveMinimum']}" if "exclusiveMinimum" in schema else f"[{schema.get('minimum', '-inf')}"
        high = f"{schema['exclusiveMaximum']})" if "exclusiveMaximum" in schema else f"{schema.get('maximum', 'inf')}]"
        return f"allowed: {schema.get('type', 'number')} in {low}, {high}"
    if "pattern" in schema:
        return f"allowed: strings matching {schema['pattern']}"
    if "type" in schema:
        return f"allowed type: {schema['type']}"
    return ""


def validate(config: dict, schema: dict | None = None) -> dict:
    """Return a validated copy of ``config`` with every default filled in."""
    config = copy.deepcopy(config) if config is not None else {}
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping of keys to values, got {type(config).__name__}")
    validator = _DefaultFillingValidator(schema or load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors:
            hint = _allowed(e)
            lines.append(f"  {_key(e.absolute_path)}: {e.message}" + (f" ({hint})" if hint else ""))
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    check_semantics(config)
    resolve_reading(config)
    return config


def resolve_reading(config: dict) -> None:
    """rho and k not given: those of the reading ``method.follow`` names."""
    rho, k = defaults(config["method"]["follow"])
    config["method"]["rho"] = rho if config["method"]["rho"] is None else config["method"]["rho"]
    config["method"]["k"] = k if config["method"]["k"] is None else config["method"]["k"]


def check_semantics(config: dict) -> None:
    corpus = config["corpus"]["name"]
    allowed = corpus_languages(corpus)
    problems = []
    if corpus == "files":
        problems += _files_problems(config)
    for i, name in enumerate(config["pairs"]):
        pair = Pair.parse(name)
        if pair.src == pair.tgt:
            problems.append(f"  pairs[{i}]: {name!r} translates a language into itself (source and target must differ)")
        for lang in (pair.src, pair.tgt):
            if allowed and lang not in allowed:
                problems.append(
                    f"  pairs[{i}]: language {lang!r} of {name!r} is not served by corpus {corpus!r} "
                    f"(allowed: {', '.join(allowed)})"
                )
    if corpus == "bible":
        for lang, edition in config["corpus"]["bible"]["editions"].items():
            key = f"corpus.bible.editions.{lang}"
            if edition not in BIBLE_EDITIONS:
                problems.append(f"  {key}: edition {edition!r} does not exist (allowed: {', '.join(BIBLE_EDITIONS)})")
            elif BIBLE_EDITIONS[edition] != lang:
                mine = [e for e, l in BIBLE_EDITIONS.items() if l == lang]
                problems.append(
                    f"  {key}: edition {edition!r} is in {BIBLE_EDITIONS[edition]!r}, not {lang!r}"
                    f" (allowed for {lang!r}: {', '.join(mine) or 'none'})"
                )
    pre = config.get("preprocess", {})
    if pre.get("min_tokens", 1) > pre.get("max_tokens", 1):
        problems.append(f"  preprocess.min_tokens: {pre['min_tokens']} is above preprocess.max_tokens {pre['max_tokens']} "
                        "(allowed: at most max_tokens; no training pair would be kept)")
    model = config.get("model", {})
    if model.get("d_model", 1) % model.get("heads", 1):
        problems.append(f"  model.heads: {model['heads']} does not divide model.d_model {model['d_model']} (allowed: a divisor of d_model)")
    for key, names in (("erasure.pairs", config.get("erasure", {}).get("pairs", [])),
                       ("figures.importance_pairs", config.get("figures", {}).get("importance_pairs", []))):
        for i, name in enumerate(names):
            if name not in config["pairs"]:
                problems.append(f"  {key}[{i}]: {name!r} is not one of the experiment's pairs (allowed: {', '.join(config['pairs'])})")
    layers = {side: model.get(f"{side}_layers", 6) for side in STACKS}
    for i, name in enumerate(config.get("figures", {}).get("importance_sites", [])):
        why = site_error(name, layers)
        if why:
            problems.append(f"  figures.importance_sites[{i}]: {name!r} is not a neuron site of this model: {why} "
                            "(allowed: encoder|decoder.layers.L.self_attn|cross_attn.q|k|v|out or .ffn.fc1|fc2, "
                            "L in [-layers, layers); cross_attn only in the decoder)")
    if corpus == "europarl":
        for i, name in enumerate(config["pairs"]):
            pair = Pair.parse(name)
            if "en" not in (pair.src, pair.tgt):
                problems.append(f"  pairs[{i}]: Europarl v7 ships only bitexts with English; {name!r} has none (use en-xx or xx-en)")
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))


def _files_problems(config: dict) -> list[str]:
    """Your own corpus: a folder, and every file the pairs need in it (read in prepare_corpus)."""
    from .corpora.files import CorpusFilesError, locate

    opts = config["corpus"]["files"]
    if not opts["dir"]:
        return ["  corpus.files.dir: not set (allowed: the folder holding your files; corpus.name is files)"]
    try:
        locate(opts, config["pairs"])
    except CorpusFilesError as e:
        return ["  " + line for line in str(e).splitlines()]
    return []


def load_config(path: Path | str, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply ``overrides`` (deep merge), validate."""
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if overrides:
        deep_update(config, overrides)
    return validate(config)


def _accepts_string(node: dict, value: str) -> bool:
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else types
    return "string" in types or value in node.get("enum", [])


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def read_value(text: str):
    """A command-line value as YAML reads it, with ``1e-3`` a number too (YAML 1.1 wants ``1.0e-3``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return float(value) if isinstance(value, str) and _EXPONENT.fullmatch(value) else value


def typed_overrides(overrides, schema: dict | None = None):
    """Snakemake reads ``--config 'train={max_updates: 500}'`` with YAML's base loader, so every
    nested value arrives as a string; read each again as YAML (``500`` -> 500, ``0.9`` -> 0.9,
    ``null`` -> None) unless the schema takes a string there. Top-level values keep Snakemake's own
    typing (int, float, bool), which this does not change."""
    def walk(value, node):
        if isinstance(value, dict):
            props = node.get("properties", {})
            return {k: walk(v, props.get(k, {})) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, node.get("items", {})) for v in value]
        return read_value(value) if isinstance(value, str) and not _accepts_string(node, value) else value

    return walk(dict(overrides), schema or load_schema())


def dotted_settings(settings: list[str]) -> dict:
    """``["train.max_updates=500", "train.lr=1e-3"]`` -> {"train": {"max_updates": 500, "lr": 0.001}}."""
    merged: dict = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{item!r}: a setting is key=value, e.g. train.max_updates=500 (quote a value that holds spaces: \"key='a b'\")")
        *parents, last = key.split(".")
        node = merged
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = read_value(value)
    return merged


def config_args(settings: list[str]) -> list[str]:
    """Dotted ``key.sub=value`` settings (which Snakemake's ``--config`` refuses) as the
    ``key={sub: value}`` arguments it takes; ``make run SET="train.max_updates=500"`` uses this."""
    import json

    return [f"{k}={json.dumps(v)}" for k, v in dotted_settings(settings).items()]


def in_place_notice(overrides: dict, experiment: str, experiment_dir: str, exists: bool) -> str | None:
    """What to tell a user whose command-line settings (``--config``, make's ``SET``) change an
    experiment that already has results, without naming a new one: its jobs whose settings change
    rerun there and replace what it holds. None when nothing is replaced."""
    if not overrides or "experiment" in overrides or not exists:
        return None
    keys = ", ".join(sorted(overrides))
    return (f"note: the settings given on the command line ({keys}) apply to experiment {experiment!r}, whose results "
            f"are in {experiment_dir}/: the jobs whose settings they change rerun there and replace what it holds. "
            f"To keep it as it is, name a new experiment: add experiment=NAME (make run SET=\"experiment=NAME ...\", "
            f"or --config experiment=NAME).")


def deep_update(base: dict, new: dict) -> dict:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def bible_editions(config: dict) -> dict[str, str]:
    """Language -> edition for every language of the experiment's pairs."""
    chosen = default_bible_editions()
    chosen.update(config["corpus"]["bible"]["editions"])
    langs = {lang for p in config["pairs"] for lang in (Pair.parse(p).src, Pair.parse(p).tgt)}
    return {lang: chosen[lang] for lang in sorted(langs)}


if __name__ == "__main__":  # `python -m neuralloc.config train.max_updates=500 ...`: the --config arguments (Makefile's SET)
    import shlex
    import sys

    try:
        print(shlex.join(config_args(sys.argv[1:])))
    except ConfigError as e:
        sys.exit(f"error: {e}")
