"""The model file: one ``.npz`` archive holding a JSON description and plain numeric arrays.

Layout (``FORMAT_VERSION`` 3):

==========================  ==============================================================
``config.json``             UTF-8 JSON as a uint8 array: format tag and version, the network's
                            constructor arguments, what ``fit`` learned (classes, target
                            rank and statistics), the optimizer's step count, the random
                            generator's state and ``model.metadata`` (e.g. the CLI's
                            preprocessing)
``parameters``              the flat parameter vector (all weights, then all biases)
``optimizer.<name>``        each optimizer state array (velocity, Adam's ``m`` and ``v``), if any
==========================  ==============================================================

Older files load: format 2 kept Adam's moments without their ``(1 - β)`` factors, and
:meth:`~backpropagation.nn.optimizers.Optimizer.upgraded_state` converts them once, at load;
format 1 had today's layout.

Saving goes through :func:`backpropagation.files.write_atomically`: a temporary file in the
target's directory renamed over the target, so a reader never sees half a model; a link is
followed and kept, and a path that is not a regular file is refused. Loading never unpickles
(``allow_pickle=False``), reads each array's header before its data so that a file claiming more
than ``MAX_ENTRY_BYTES`` (or more bytes than it holds) is refused before anything is allocated,
and checks every field before building the network, raising ``ValueError`` that says what is
wrong.
"""

from __future__ import annotations

import json
import math
import os
import zipfile

import numpy as np

from .nn import activations, initializers, losses, optimizers
from .nn.input_layers import PeriodicEmbedding
from ._registry import describe, rebuild
from .files import write_atomically

FORMAT = "backpropagation.model"
FORMAT_VERSION = 3
#: Versions :func:`load_model` reads.
READABLE_VERSIONS = (1, 2, 3)
#: Largest array a model file may hold (2 GiB, far beyond any network this library trains on a
#: CPU); a header claiming more is refused before memory is allocated for it.
MAX_ENTRY_BYTES = 2**31
#: Largest description (JSON: the network, fitted state and metadata such as the CLI's categories).
MAX_CONFIG_BYTES = 2**26
#: Room for a ``.npy`` entry's header beside its data.
NPY_HEADER_BYTES = 4096
# What a wrong field in a well-formed JSON description can make the constructors raise.
_DESCRIPTION_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
                       RecursionError)


def save_model(model, path) -> None:
    """Write ``model`` to ``path`` atomically (see the module docstring for the layout)."""
    path = os.fspath(path)
    network = model.get_config()
    try:
        json.dumps(network)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot save the network: a building block's get_config() returned "
                         f"something JSON cannot hold: {error}") from None
    description = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "network": network,
        "fitted": model.task_.get_state() if model.task_.fitted else None,
        "optimizer_iterations": model.optimizer.iterations,
        "rng_state": model.rng.bit_generator.state,
        "dropout_rng_state": None if model.dropout_rng is None else model.dropout_rng.bit_generator.state,
        "metadata": model.metadata,
        "feature_names_in": None if model.feature_names_in_ is None else list(model.feature_names_in_),
    }
    try:
        text = json.dumps(description)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model.metadata: must hold JSON-ready values only: {error}") from None
    _refuse_what_load_would(model)
    arrays = {"config.json": np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
              "parameters": model.parameters}
    for name, state in model.optimizer.get_state().items():
        arrays[f"optimizer.{name}"] = state
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def _refuse_what_load_would(model) -> None:
    """ValueError for a model :func:`load_model` would refuse: never write a file that cannot be read."""
    if not np.isfinite(model.parameters).all():
        raise ValueError("cannot save the model: its parameters contain non-finite values")
    try:
        model.optimizer.check_state(model.optimizer.get_state())
    except ValueError as error:
        raise ValueError(f"cannot save the model: {error} (training overflowed; train again on "
                         "rescaled data or with a smaller learning rate)") from None


def load_model(path, from_config):
    """Read and validate a model file written by :func:`save_model`.

    ``from_config`` builds the untrained network from the file's description
    (``NeuralNetwork.from_config``); this module never imports the network itself.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid model file of a supported version (message says why).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path!r} does not exist")
    where = f"model file {path!r}"
    description, arrays = _read_file(path, where)
    params = arrays["parameters"]
    declared = _declared_parameter_count(description["network"])
    if declared != params.size:
        # Checked before building: a description may claim a network too large to allocate.
        raise ValueError(f"{where}: the description declares {declared} parameters but the file "
                         f"holds {params.size}")
    try:
        model = from_config(description["network"])
    except _DESCRIPTION_ERRORS as error:
        raise ValueError(f"{where}: invalid network description: {error}") from None
    if params.shape != model.parameters.shape or params.dtype.kind != "f":
        raise ValueError(f"{where}: parameters have shape {params.shape} and dtype {params.dtype}; "
                         f"the described network needs {model.parameters.shape} floats")
    if not np.isfinite(params).all():
        raise ValueError(f"{where}: parameters contain non-finite values")
    model.parameters[...] = params
    try:
        _restore_fitted_state(model, description, arrays)
    except _DESCRIPTION_ERRORS as error:
        raise ValueError(f"{where}: invalid fitted state: {error}") from None
    return model


def _restore_fitted_state(model, description: dict, arrays: dict) -> None:
    """What ``fit`` learned, the optimizer's state, feature names, metadata and random state."""
    params = model.parameters
    if description.get("fitted") is not None:
        model.task_.set_state(description["fitted"])
    state = {key.removeprefix("optimizer."): value for key, value in arrays.items() if key.startswith("optimizer.")}
    for name, value in state.items():
        if value.shape != params.shape:
            raise ValueError(f"optimizer state {name!r} has shape {value.shape}, expected {params.shape}")
    state = model.optimizer.upgraded_state(state, description["version"])
    model.optimizer.set_state(state, description.get("optimizer_iterations", 0), params)
    names = description.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or len(names) != model.layer_sizes[0] or \
                not all(isinstance(n, str) for n in names):
            raise ValueError(f"feature_names_in: expected {model.layer_sizes[0]} column names, got {names!r}")
        model.feature_names_in_ = np.array(names, dtype=object)
    metadata = description.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError("metadata is not a JSON object")
    model.metadata = metadata
    if description.get("rng_state"):
        model.rng.bit_generator.state = description["rng_state"]
    if description.get("dropout_rng_state") and model.dropout_rng is not None:
        model.dropout_rng.bit_generator.state = description["dropout_rng_state"]


def network_config(model) -> dict:
    """The network's constructor arguments as JSON-ready values (``NeuralNetwork.get_config``).

    Building blocks become ``{"name", "config"}`` through their registries.

    Raises
    ------
    ValueError
        For a building block that is not registered (it could not be rebuilt at load).
    """
    return {
        "layer_sizes": list(model.layer_sizes),
        "task": model.task,
        "hidden_activation": [describe(layer.activation, activations.registry) for layer in model.layers[:-1]],
        "output_activation": describe(model.layers[-1].activation, activations.registry),
        "loss": describe(model.loss, losses.registry),
        "optimizer": describe(model.optimizer, optimizers.registry),
        "learning_rate": model.learning_rate,
        "l2": model.l2,
        "initializer": model.initializer if isinstance(model.initializer, str)
        else describe(model.initializer, initializers.registry),
        "use_bias": model.use_bias,
        "dtype": model.dtype.name,
        "standardize_target": model.standardize_target,
        "engine": model.engine,
        "dropout": [0.0 if d is None else d.rate for d in model.dropouts[:-1]],
        "embeddings": [[e.column, e.n_categories, e.dim, e.unseen_row] for e in model.embeddings],
        "periodic": None if model.periodic is None else model.periodic.config(),
        "input_scale": model.input_scale,
        "clip_predictions": model.clip_predictions,
    }


def constructor_arguments(config: dict) -> dict:
    """Keyword arguments of ``NeuralNetwork`` from :func:`network_config`'s output."""
    init = config["initializer"]
    return dict(
        layer_sizes=config["layer_sizes"], task=config["task"],
        hidden_activation=[rebuild(d, activations.registry) for d in config["hidden_activation"]],
        output_activation=rebuild(config["output_activation"], activations.registry),
        loss=rebuild(config["loss"], losses.registry),
        optimizer=rebuild(config["optimizer"], optimizers.registry),
        learning_rate=config["learning_rate"], l2=config["l2"],
        initializer=init if isinstance(init, str) else rebuild(init, initializers.registry),
        use_bias=config["use_bias"], dtype=config["dtype"],
        # Files written before the switch existed trained on raw targets.
        standardize_target=config.get("standardize_target", False),
        engine=config.get("engine", "auto"),
        dropout=config.get("dropout", 0.0),
        embeddings={int(e[0]): (int(e[1]), int(e[2]), bool(e[3]) if len(e) > 3 else False)
                    for e in config.get("embeddings", [])} or None,
        periodic=_periodic(config.get("periodic")),
        input_scale=config.get("input_scale", False),
        clip_predictions=config.get("clip_predictions", False),
    )


def _periodic(saved):
    """The ``periodic`` argument from a saved ``[columns, n_frequencies, dim, sigma]`` (None: none;
    ``sigma`` a number or a pair)."""
    if saved is None:
        return None
    columns, n_frequencies, dim, sigma = saved
    return PeriodicEmbedding([int(c) for c in columns], int(n_frequencies), int(dim),
                             tuple(sigma) if isinstance(sigma, list) else sigma)


def _read_file(path: str, where: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The file's checked description and its arrays.

    The file may come from anywhere: every entry's name is checked before anything is
    decompressed, the description is read first, and each array entry's declared size is
    checked against what the described network needs before it is read. Any failure to
    decode the container (bad zip, bad compression, bad header) becomes one ``ValueError``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            _refuse_foreign_entries(entries)
            description = _description(_read_entry(archive, entries["config.json"], MAX_CONFIG_BYTES), where)
            limit = _largest_array_bytes(description.get("network"))
            arrays = {name: _read_entry(archive, info, limit) for name, info in entries.items()
                      if name != "config.json"}
    except ValueError as error:
        if str(error).startswith(where):
            raise
        raise ValueError(f"{where} is not a readable model file: {error}") from None
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise ValueError(f"{where} is not a readable model file (.npz without pickled data): "
                         f"{type(error).__name__}: {error}") from None
    return description, arrays


def _refuse_foreign_entries(entries: dict) -> None:
    """ValueError for a missing entry, or one that a model file never holds."""
    for key in ("config.json", "parameters"):
        if key not in entries:
            raise ValueError(f"missing entry {key!r}; is this a backpropagation model?")
    foreign = [name for name in entries if name not in ("config.json", "parameters")
               and not (name.startswith("optimizer.") and name.removeprefix("optimizer.").isidentifier())]
    if foreign:
        raise ValueError(f"entry {foreign[0]!r} is not part of a model file (it holds config.json, "
                         "parameters and optimizer.<state> only); refusing to read it")


def _description(array: np.ndarray, where: str) -> dict:
    """The JSON description from the ``config.json`` entry, with its format and version checked."""
    try:
        description = json.loads(array.astype(np.uint8).tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{where}: config.json is not valid JSON: {error}") from None
    except RecursionError:
        raise ValueError(f"{where}: config.json is nested too deeply to be a model description") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ValueError(f"{where}: not a backpropagation model (format tag missing or wrong)")
    version = description.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ValueError(f"{where}: format version {version!r} is not supported "
                         f"(this library reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    return description


def _largest_array_bytes(network) -> int:
    """Most bytes a parameter-sized entry may hold: the declared parameters in float64 plus a
    ``.npy`` header; ValueError if the description declares no sensible network."""
    count = _declared_parameter_count(network)
    if count is None:
        raise ValueError("invalid network description: layer_sizes must be two or more whole numbers >= 1")
    if count * 8 > MAX_ENTRY_BYTES:
        raise ValueError(f"the description declares {count} parameters, more than a model file may hold")
    return count * 8 + NPY_HEADER_BYTES


def _read_entry(archive, info, limit: int) -> np.ndarray:
    """One ``.npy`` entry, refused before decompression if it declares more than ``limit`` bytes."""
    name = info.filename.removesuffix(".npy")
    if info.file_size > limit:
        raise ValueError(f"entry {name!r} declares {info.file_size} bytes, more than the {limit} the "
                         "described network can need")
    with archive.open(info) as handle:
        return _read_npy(handle, name, info.file_size)


def _read_npy(handle, name: str, entry_size: int) -> np.ndarray:
    """One array from an open ``.npy`` stream, after checking what its header claims."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"entry {name!r} has .npy format version {version}, expected 1.0 or 2.0")
    if any(n < 0 for n in shape):
        raise ValueError(f"entry {name!r} has a negative dimension in its shape {shape}")
    if dtype.hasobject:
        raise ValueError(f"entry {name!r} holds Python objects (pickled data), which are never loaded")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > entry_size:
        raise ValueError(f"entry {name!r} claims {claimed} bytes of data but holds {entry_size}")
    data = handle.read(claimed)
    if len(data) != claimed:
        raise ValueError(f"entry {name!r} is truncated")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.copy()  # writable, and no longer tied to the bytes object


def _declared_parameter_count(network) -> int | None:
    """Parameters the description's layer sizes imply, or None if they are not plain integers."""
    try:
        sizes = list(network["layer_sizes"])
        use_bias = network.get("use_bias", True) is not False
        embedded = [list(e) for e in network.get("embeddings", [])]
        periodic = [list(network["periodic"])] if network.get("periodic") is not None else []
        if not all(type(n) is int and n > 0 for n in sizes) or len(sizes) < 2 or \
                any(len(e) not in (3, 4) or not all(type(v) is int and v >= low for v, low in zip(e, (0, 1, 1)))
                    or len(e) == 4 and type(e[3]) is not bool for e in embedded) or \
                any(len(p) != 4 or not isinstance(p[0], list) or not all(type(v) is int and v >= 0 for v in p[0])
                    or not all(type(v) is int and v >= 1 for v in p[1:3]) for p in periodic):
            return None
    except (TypeError, KeyError, AttributeError):
        return None
    tables = sum(e[1] * e[2] for e in embedded) + sum(len(c) * (2 * k + k * d + d) for c, k, d, _ in periodic)
    sizes[0] += sum(e[2] - 1 for e in embedded) + sum(len(c) * d for c, _, d, _ in periodic)   # (a column: dim inputs)
    scale = sizes[0] if network.get("input_scale") is True else 0
    return tables + scale + sum(a * b + (b if use_bias else 0) for a, b in zip(sizes[:-1], sizes[1:]))
