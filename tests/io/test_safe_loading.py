"""Crafted files: every malformed, hostile or mismatched input is a ValueError naming the file and
the problem, memory stays bounded, nothing is unpickled or evaluated, nothing is partly loaded."""
import io
import json
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

from upsampling import layers
from upsampling.io import Limits, LoadError, load_model, model_from_json
from upsampling.models import Sequential

h5py = pytest.importorskip("h5py")


def _model():
    return Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"), layers.BatchNormalization(),
                       layers.Dense(2)])


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _h5(build):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


@pytest.fixture
def saved(tmp_path):
    model = _model()
    return model, model.save(tmp_path / "good.keras")


def _edit_weights(saved, tmp_path, edit):
    """A copy of the saved .keras file whose model.weights.h5 went through `edit(h5file)`."""
    members = _members(saved[1])
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        edit(f)
    members["model.weights.h5"] = buf.getvalue()
    return _zip(tmp_path / "edited.keras", members)


def _edit_config(saved, tmp_path, edit):
    members = _members(saved[1])
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return _zip(tmp_path / "edited.keras", members)


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_bomb_is_refused_before_it_is_decompressed(saved, tmp_path):
    members = _members(saved[1])
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", members["config.json"])
        with zf.open("model.weights.h5", "w", force_zip64=True) as fh:
            block = bytes(1 << 20)
            for _ in range(1024):  # 1 GiB of zeros, about 1 MB compressed
                fh.write(block)
    assert bomb.stat().st_size < 2 << 20

    def load():
        with pytest.raises(ValueError, match=r"bomb.keras: member 'model.weights.h5' would expand .* zip bomb"):
            load_model(bomb)

    assert _peak(load) < 8 << 20


def test_members_beyond_the_size_limit_are_refused_from_their_header(saved):
    with pytest.raises(ValueError, match=r"good.keras: member '.*' declares \d+ bytes, more than the limit of 1000"):
        load_model(saved[1], limits=Limits(max_member_bytes=1000))


def test_a_config_declaring_a_huge_layer_is_refused_before_allocation(saved, tmp_path):
    def huge(config):
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 20000]
        config["config"]["layers"][1]["config"]["units"] = 20000
        config["config"]["layers"][1]["build_config"]["input_shape"] = [None, 20000]
        config["config"]["build_input_shape"] = [None, 20000]
    path = _edit_config(saved, tmp_path, huge)

    def load():
        with pytest.raises(ValueError, match=r"edited.keras: layer 'dense\w*' \(Dense\) declares weight `kernel` "
                                             r"of shape \(20000, 20000\)"):
            load_model(path)

    assert _peak(load) < 8 << 20
    text = json.dumps(json.loads(_members(path)["config.json"]))

    def from_json():  # no weights file to compare with: the absolute limit applies
        with pytest.raises(ValueError, match=r"more than the limit of 268435456"):
            model_from_json(text)

    assert _peak(from_json) < 8 << 20


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["config"]["layers"][1].update(class_name="Conv3D"),
     r"unknown layer class 'Conv3D'; supported: \[.*'Conv2DTranspose'.*'UpSampling2D'"),
    (lambda c: c["config"]["layers"][1].update(class_name="Lambda"),
     r"Lambda layer .* cannot be loaded from a file: it wraps Python code"),
    (lambda c: c["config"]["layers"][1]["config"].update(activation="swiglu"),
     r"unknown activation 'swiglu'; supported: \[.*'relu'.*\]"),
    (lambda c: c["config"]["layers"][1]["config"].update(
        kernel_initializer={"class_name": "MyInit", "config": {}}),
     r"unknown initializer 'MyInit' for `kernel_initializer`; supported: \[.*'GlorotUniform'"),
    (lambda c: c["config"]["layers"][1]["config"].update(units="3"), r"cannot rebuild layer 'dense\w*' \(Dense\)"),
    (lambda c: c["config"].pop("layers"), r"`layers` must be a list"),
    (lambda c: c["config"]["layers"][2]["config"].update(renorm=True), r"renorm"),
])
def test_unknown_or_bad_config_entries_are_refused_with_what_is_supported(saved, tmp_path, edit, message):
    with pytest.raises(ValueError, match=r"edited.keras: .*" + message):
        load_model(_edit_config(saved, tmp_path, edit))


def _first_dense_group(f):
    return "layers/dense/vars" if "layers/dense/vars" in f else next(
        f"layers/{k}/vars" for k in f["layers"] if k.startswith("dense"))


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.__delitem__(_first_dense_group(f) + "/1"), r"weight `dense\w*/bias` .* is missing"),
    (lambda f: f.create_dataset(_first_dense_group(f) + "/2", data=np.zeros(3, np.float32)),
     r"holds arrays the model does not have: \['layers/dense\w*/vars/2'\]"),
    (lambda f: (f.__delitem__(_first_dense_group(f) + "/0"),
                f.create_dataset(_first_dense_group(f) + "/0", data=np.zeros((4, 4), np.float32))),
     r"has shape \(4, 4\); the model expects \(4, 3\)"),
    (lambda f: (f.__delitem__(_first_dense_group(f) + "/0"),
                f.create_dataset(_first_dense_group(f) + "/0", data=np.zeros((4, 3), np.int32))),
     r"has dtype int32; a floating-point array is expected"),
    (lambda f: (f.__delitem__(_first_dense_group(f) + "/0"),
                f.create_dataset(_first_dense_group(f) + "/0", data=np.array([b"abc"] * 12).reshape(4, 3))),
     r"has dtype \|S3; only real numeric arrays are allowed"),
    (lambda f: (f.__delitem__(_first_dense_group(f) + "/0"),
                f.create_dataset(_first_dense_group(f) + "/0", shape=(10**9, 10**3), dtype="f4", chunks=(1, 1000),
                                 compression="gzip")),
     r"declares shape \(1000000000, 1000\)"),
])
def test_missing_extra_or_wrong_weights_are_refused(saved, tmp_path, edit, message):
    with pytest.raises(ValueError, match=r"edited.keras: .*" + message):
        load_model(_edit_weights(saved, tmp_path, edit))


def test_damaged_files_give_a_clear_error(saved, tmp_path):
    data = saved[1].read_bytes()
    cases = {
        "truncated.keras": data[: len(data) // 2],
        "empty.keras": b"",
        "text.keras": b"hello",
    }
    members = _members(saved[1])
    flipped = bytearray(data)
    at = data.index(b"HDF") + 300  # inside the stored weights member: its CRC no longer matches
    flipped[at] ^= 0xFF
    cases["crc.keras"] = bytes(flipped)
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ValueError, match=rf"{name}: "):
            load_model(tmp_path / name)
    _zip(tmp_path / "badh5.keras", {**members, "model.weights.h5": members["model.weights.h5"][:600]})
    with pytest.raises(ValueError, match=r"badh5.keras: model.weights.h5 is not a readable HDF5 file"):
        load_model(tmp_path / "badh5.keras")
    _zip(tmp_path / "nocfg.keras", {"model.weights.h5": members["model.weights.h5"]})
    with pytest.raises(ValueError, match=r"nocfg.keras: is not a Keras .keras file: the member 'config.json' is missing"):
        load_model(tmp_path / "nocfg.keras")
    h5 = saved[0].save(tmp_path / "m.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(h5[: len(h5) // 3])
    with pytest.raises(ValueError, match=r"cut.h5: the file is not a readable HDF5 file"):
        load_model(tmp_path / "cut.h5")


@pytest.mark.parametrize("text, message", [
    ("[" * 5000 + "]" * 5000, r"config.json nests 5000 levels deep, more than the limit of 64"),
    ('{"class_name": "Sequential", "config": {', r"config.json is not valid JSON"),
    ('{"class_name": "Sequential", "config": {"layers": [NaN]}}', r"config.json is not valid JSON"),
    ("[1, 2]", r"config.json must be a JSON object"),
    ('{"class_name": "Sequential"', r"config.json is not valid JSON"),
])
def test_deep_or_malformed_json_is_refused(saved, tmp_path, text, message):
    members = _members(saved[1])
    members["config.json"] = text.encode()
    with pytest.raises(ValueError, match=r"edited.keras: " + message):
        load_model(_zip(tmp_path / "edited.keras", members))
    with pytest.raises(ValueError, match=r"model_from_json: "):
        model_from_json(text)


def test_json_beyond_the_size_limit_is_refused(saved):
    with pytest.raises(ValueError, match=r"good.keras: config.json is \d+ bytes long, more than the limit of 100"):
        load_model(saved[1], limits=Limits(max_json_bytes=100))


def test_a_folder_or_missing_path_is_named(tmp_path):
    with pytest.raises(ValueError, match=rf"{tmp_path}: is a folder"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match=rf"{tmp_path}: is a folder"):
        _model().load_weights(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(tmp_path / "missing.keras")


def test_nothing_is_unpickled_from_older_model_files(tmp_path):
    from upsampling import saving
    path = saving.save_model(_model(), tmp_path / "old.model")  # the older format still loads
    assert isinstance(load_model(path), Sequential)
    members = _members(path)
    npz = io.BytesIO()
    trap = np.array([print], dtype=object)
    with zipfile.ZipFile(npz, "w") as zf:
        buf = io.BytesIO()
        np.save(buf, trap, allow_pickle=True)
        zf.writestr("0000:x.npy", buf.getvalue())
    members["weights.npz"] = npz.getvalue()
    _zip(tmp_path / "pickled.model", members)
    with pytest.raises(ValueError, match=r"pickled.model: weights.npz array '0000:x' has dtype object; only real "):
        load_model(tmp_path / "pickled.model")
    assert pickle.dumps(print)  # (the trap really is a picklable object array)


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def test_load_weights_and_set_weights_check_every_array_before_assigning_any(tmp_path):
    model = _model()
    before = _snapshot(model)
    other = _model()
    other.layers[-1].set_weights([np.ones((3, 2), np.float32), np.ones(2, np.float32)])
    bad = [w + 1 for w in other.get_weights()]
    bad[-1] = np.zeros(5, np.float32)  # only the last array is wrong
    with pytest.raises(ValueError, match=r"Dense layer 'dense\w*': weight `bias` has shape \(2,\).*\(5,\)"):
        model.set_weights(bad)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="must be numeric"):
        model.set_weights([np.array(["a"] * w.size).reshape(w.shape) for w in before])
    # a weights file whose last array has the wrong shape leaves the model untouched
    wider = Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"), layers.BatchNormalization(),
                        layers.Dense(5)])
    wider.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match=r"w.weights.h5: the weights file: weight `dense\w*/kernel` .* has shape "
                                         r"\(3, 5\); the model expects \(3, 2\)"):
        model.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_weights_only_file_is_not_a_model(tmp_path):
    model = _model()
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match=r"w.weights.h5: is not a model: an HDF5 file without a `model_config` attribute"):
        load_model(tmp_path / "w.weights.h5")


def test_load_error_is_a_value_error():
    assert issubclass(LoadError, ValueError)


def _edit_h5(model, tmp_path, edit):
    path = model.save(tmp_path / "edited.h5")
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _huge_h5_config(f):
    config = json.loads(f.attrs["model_config"])
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 20000]
    config["config"]["layers"][1]["config"]["units"] = 20000
    config["config"]["layers"][1]["build_config"]["input_shape"] = [None, 20000]
    f.attrs["model_config"] = json.dumps(config)


def _first_layer_group(f):
    return f["model_weights"][[n for n in f["model_weights"] if n.startswith("dense")][0]]


def _wrong_kernel(f):
    g = _first_layer_group(f)
    name = g.attrs["weight_names"][0]
    del g[name]
    g.create_dataset(name, data=np.zeros((4, 7), np.float32))


@pytest.mark.parametrize("edit, message", [
    (_huge_h5_config, r"declares weight `kernel` of shape \(20000, 20000\)"),
    (lambda f: f.attrs.__setitem__("model_config", "{" * 100 + "}" * 100), r"model_config nests 100 levels deep"),
    (lambda f: f.attrs.__delitem__("model_config"), r"is not a model"),
    (lambda f: _first_layer_group(f).__delitem__(_first_layer_group(f).attrs["weight_names"][1]),
     r"weight '.*bias' of layer 'dense\w*' is missing"),
    (_wrong_kernel, r"has shape \(4, 7\); the model expects \(4, 3\)"),
    (lambda f: f["model_weights"].attrs.__setitem__("layer_names", np.array(["nope"], dtype=h5py.string_dtype())),
     r"the layer group 'nope' listed in `layer_names` is missing"),
])
def test_legacy_h5_files_are_checked_the_same_way(edit, message, tmp_path):
    path = _edit_h5(_model(), tmp_path, edit)

    def load():
        with pytest.raises(ValueError, match=r"edited.h5: .*" + message):
            load_model(path)

    assert _peak(load) < 8 << 20


def _functional_json():
    from upsampling.models import Model

    x = layers.Input((4,), name="x")
    d1 = layers.Dense(3, name="d1")(x)
    d2 = layers.Dense(3, name="d2")(d1)
    model = Model(x, layers.Add(name="add")([d1, d2]))
    return json.loads(model.to_json())


def _history(entry, node=0, arg=None):
    """The keras_history list of one argument tensor of a layer's node (the first one by default)."""
    args = entry["inbound_nodes"][node]["args"][0]
    tensor = args[arg] if arg is not None else args
    return tensor["config"]["keras_history"]


def _by_name(cfg, name):
    return next(e for e in cfg["config"]["layers"] if e["name"] == name)


def _empty_layers(cfg):
    cfg["config"]["layers"] = []


def _duplicate_name(cfg):
    _by_name(cfg, "d2")["name"] = "d1"


def _nodes_not_a_list(cfg):
    _by_name(cfg, "d1")["inbound_nodes"] = {"args": []}


def _short_reference(cfg):
    _by_name(cfg, "d2")["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["d1", 0]


def _unknown_layer(cfg):
    _history(_by_name(cfg, "d2"))[0] = "nowhere"


def _tensor_index(cfg):
    _history(_by_name(cfg, "add"), arg=1)[2] = 5


def _call_kwargs(cfg):
    _by_name(cfg, "d1")["inbound_nodes"][0]["kwargs"] = {"mask": [1, 0]}


def _two_args(cfg):
    node = _by_name(cfg, "d1")["inbound_nodes"][0]
    node["args"] = node["args"] + node["args"]


def _cycle(cfg):
    _history(_by_name(cfg, "d1"))[0] = "d2"  # d1 <- d2 <- d1: neither is ever computed


def _output_never_produced(cfg):
    cfg["config"]["output_layers"] = [["d2", 3, 0]]


@pytest.mark.parametrize("edit,message", [
    (_empty_layers, r"a functional model's `layers` must be a non-empty list"),
    (_duplicate_name, r"two layers are named 'd1'"),
    (_nodes_not_a_list, r"layer 'd1': `inbound_nodes` must be a list"),
    (_short_reference, r"malformed tensor reference \['d1', 0\]"),
    (_unknown_layer, r"a node refers to the unknown layer 'nowhere'"),
    (_tensor_index, r"tensor index 5 of layer 'd2' does not exist"),
    (_call_kwargs, r"layer 'd1': call arguments \['mask'\] are not supported"),
    (_two_args, r"layer 'd1': expected one positional argument per call, found 2"),
    (_cycle, r"the graph cannot be rebuilt: the inputs of \['d1', 'd2', 'add'\] are never produced"),
    (_output_never_produced, r"`output_layers` names a tensor the graph does not produce"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
def test_a_crafted_functional_graph_is_refused_with_what_is_wrong(edit, message):
    """Each way a functional model's graph can be broken in a file: a LoadError (a ValueError)
    that says what is wrong and where, never a KeyError, IndexError or a half-built model."""
    cfg = _functional_json()
    model_from_json(json.dumps(cfg))  # the unedited graph loads
    edit(cfg)
    with pytest.raises(LoadError, match=message):
        model_from_json(json.dumps(cfg))
