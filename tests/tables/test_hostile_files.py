"""Model files and CSV files from anywhere: absurd sizes are refused before allocation, and
fuzzed input raises only the documented errors (ValueError), never crashes or hangs."""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backpropagation import NeuralNetwork
from backpropagation import io as model_io
from backpropagation.tables.readers import read_csv
from backpropagation.tables.preprocessing import TabularPreprocessor

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def npy_bytes(array=None, header_shape=None, payload=b""):
    """A .npy entry: ``array`` saved by NumPy, or a float64 header claiming ``header_shape``
    followed by ``payload`` whatever its size."""
    buffer = io.BytesIO()
    if array is not None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                      "shape": header_shape})
        buffer.write(payload)
    return buffer.getvalue()


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def description_bytes(network):
    text = json.dumps({"format": model_io.FORMAT, "version": model_io.FORMAT_VERSION, "network": network,
                       "fitted": None, "optimizer_iterations": 0, "metadata": {}})
    return npy_bytes(np.frombuffer(text.encode(), dtype=np.uint8))


NETWORK = NeuralNetwork([2, 3, 1], random_state=0).get_config()


def test_a_header_claiming_gigabytes_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    write_zip(path, {"config.json.npy": description_bytes(NETWORK),
                     "parameters.npy": npy_bytes(header_shape=(10**10,), payload=b"\0" * 104)})
    with pytest.raises(ValueError, match="claims 80000000000 bytes of data but holds"):
        NeuralNetwork.load(path)


def test_an_entry_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    NeuralNetwork([20, 30, 1], random_state=0).save(path)
    monkeypatch.setattr(model_io, "MAX_ENTRY_BYTES", 1000)
    with pytest.raises(ValueError, match="declares 661 parameters, more than a model file may hold"):
        NeuralNetwork.load(path)


def test_a_description_declaring_a_giant_network_is_refused_before_building_it(tmp_path):
    path = tmp_path / "giant.npz"
    giant = dict(NETWORK, layer_sizes=[100_000, 100_000, 100_000],
                 hidden_activation=NETWORK["hidden_activation"])
    write_zip(path, {"config.json.npy": description_bytes(giant), "parameters.npy": npy_bytes(np.zeros(13))})
    with pytest.raises(ValueError, match="declares 20000200000 parameters, more than a model file may hold"):
        NeuralNetwork.load(path)


def test_negative_dimensions_and_unknown_npy_versions_are_refused(tmp_path):
    path = tmp_path / "neg.npz"
    write_zip(path, {"config.json.npy": description_bytes(NETWORK),
                     "parameters.npy": npy_bytes(header_shape=(-13,))})
    with pytest.raises(ValueError, match="negative dimension"):
        NeuralNetwork.load(path)
    write_zip(path, {"parameters.npy": b"\x93NUMPY\x09\x00" + b"\0" * 20})
    with pytest.raises(ValueError, match="not a readable model file"):
        NeuralNetwork.load(path)


def test_a_compressed_archive_of_a_valid_model_loads(tmp_path):
    model = NeuralNetwork([2, 3, 1], random_state=0)
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as archive:
        np.savez_compressed(tmp_path / "c.npz", **{k: archive[k] for k in archive.files})
    np.testing.assert_array_equal(NeuralNetwork.load(tmp_path / "c.npz").parameters, model.parameters)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "model.npz"
    model = NeuralNetwork([3, 4, 2], task="classification", optimizer="adam", random_state=0)
    model.fit(np.eye(3)[[0, 1, 2, 0]], ["a", "b", "a", "b"], epochs=2, verbose=0)
    model.save(path)
    return path.read_bytes()


mutations = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8)


@FUZZ
@given(mutations=mutations, cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_fuzzed_model_files_raise_only_value_error(model_file, tmp_path, mutations, cut):
    data = bytearray(model_file)
    for position, value in mutations:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(bytes(data))
    try:
        model = NeuralNetwork.load(path)
    except ValueError:
        return
    # a mutation the checks cannot tell from a real model (e.g. inside a weight) still loads sanely
    assert np.isfinite(model.parameters).all()
    assert model.predict(np.eye(3)).shape == (3,)


csv_text = st.text(alphabet=st.sampled_from(list('ab1.-e,"\n\r\t ?NA\ufeffé')), max_size=200)


@FUZZ
@given(text=csv_text)
def test_fuzzed_csv_files_raise_only_value_error(tmp_path, text):
    path = tmp_path / "fuzzed.csv"
    path.write_text(text, encoding="utf-8")
    try:
        table = read_csv(path)
        pre = TabularPreprocessor(table.header[-1]).fit(table)
        X, y, _ = pre.transform(table)
    except ValueError:
        return
    assert X.shape[0] == len(y) and np.isfinite(X).all()


@FUZZ
@given(data=st.binary(max_size=200))
def test_csv_files_of_arbitrary_bytes_raise_only_value_error(tmp_path, data):
    path = tmp_path / "bytes.csv"
    path.write_bytes(data)
    try:
        read_csv(path)
    except ValueError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10)


def paths(value, prefix=()):
    """Every key path into a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, prefix + (index,))


@FUZZ
@given(choice=st.integers(0, 10**6), replacement=json_values)
def test_fuzzed_descriptions_in_a_valid_container_raise_only_value_error(model_file, tmp_path, choice,
                                                                          replacement):
    with np.load(io.BytesIO(model_file)) as archive:
        arrays = {key: archive[key] for key in archive.files}
    description = json.loads(arrays["config.json"].tobytes())
    targets = list(paths(description))[1:]
    *parents, last = targets[choice % len(targets)]
    node = description
    for key in parents:
        node = node[key]
    node[last] = replacement
    arrays["config.json"] = np.frombuffer(json.dumps(description).encode(), dtype=np.uint8)
    path = tmp_path / "fuzzed.npz"
    np.savez(path, **arrays)
    try:
        model = NeuralNetwork.load(path)
    except ValueError:
        return
    assert np.isfinite(model.parameters).all()
    if model.task_.fitted:            # ("fitted": null is an honest untrained model)
        assert model.predict(np.eye(3)).shape == (3,)


def zip_with_extra_entry(path, model_path, name, size):
    """A copy of a model file plus one entry ``name`` of ``size`` zero bytes (compressed tiny)."""
    import zipfile

    with zipfile.ZipFile(model_path) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        with target.open(name, "w", force_zip64=True) as handle:
            block = bytes(1 << 22)
            for _ in range(size // len(block)):
                handle.write(block)


@pytest.mark.parametrize("entry", ["junk.npy", "optimizer.m.npy"])
def test_a_model_file_with_a_huge_extra_entry_is_refused_before_decompressing_it(tmp_path, entry):
    import tracemalloc

    model_path, bomb = tmp_path / "model.npz", tmp_path / "bomb.npz"
    model = NeuralNetwork([3, 4, 1], random_state=0)
    X = np.random.default_rng(0).normal(size=(20, 3))
    model.fit(X, X.sum(axis=1), epochs=2, verbose=0)
    model.save(model_path)
    if entry == "optimizer.m.npy":       # the real entry, replaced by one far larger than the network
        import zipfile
        with zipfile.ZipFile(model_path) as source, zipfile.ZipFile(tmp_path / "less.npz", "w") as target:
            for info in source.infolist():
                if info.filename != entry:
                    target.writestr(info.filename, source.read(info))
        model_path = tmp_path / "less.npz"
    zip_with_extra_entry(bomb, model_path, entry, 1 << 28)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="not part of a model file|more than the .* the described network"):
            NeuralNetwork.load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak           # nothing of the 256 MiB entry was decompressed
