"""pybitnet.reuse_memory: numpy's allocation handler set for a block (a context variable), freed large
blocks reused (zeroed again for np.zeros), arrays that outlive the block, other threads untouched."""
import contextlib
import threading

import numpy as np
import pytest

import pybitnet

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import get_handler_name


def test_handler_set_inside_only():
    before = get_handler_name()
    with pybitnet.reuse_memory():
        assert get_handler_name() == "pybitnet_array_cache"
        with pybitnet.reuse_memory():  # nested: restored to the outer one
            pass
        assert get_handler_name() == "pybitnet_array_cache"
    assert get_handler_name() == before


def test_freed_blocks_are_reused_and_zeros_are_zero():
    pybitnet.release_memory()
    with pybitnet.reuse_memory():
        a = np.full((512, 1024), 7.0, np.float32)  # 2 MiB
        assert get_handler_name(a) == "pybitnet_array_cache"
        del a
        assert pybitnet.memory_cache_stats()["cached_blocks"] == 1
        hits = pybitnet.memory_cache_stats()["hits"]
        z = np.zeros((512, 1024), np.float32)  # the same size: the freed block, cleared
        assert pybitnet.memory_cache_stats()["hits"] == hits + 1
        assert not z.any()
        small = np.ones(10)  # below 1 MiB: malloc's own
        del small
    assert pybitnet.memory_cache_stats()["cached_blocks"] == 0
    kept = z  # outlives the block; freed later into the cache all the same
    kept += 1
    assert kept.sum() == 512 * 1024
    del z, kept
    assert pybitnet.memory_cache_stats()["cached_blocks"] == 1
    assert pybitnet.release_memory() == 2 << 20
    assert pybitnet.memory_cache_stats()["cached_bytes"] == 0


def test_kernels_results_and_other_threads():
    x = np.random.default_rng(0).standard_normal((300, 4096)).astype(np.float32)
    want = pybitnet.pack_signs(x)
    seen = []
    with pybitnet.reuse_memory():
        t = threading.Thread(target=lambda: seen.append(get_handler_name(np.empty((1024, 1024)))))
        t.start()
        t.join()
        for _ in range(3):
            y = x * np.float32(2)  # 4.9 MB, freed and taken again
            np.testing.assert_array_equal(pybitnet.pack_signs(y), want)
    assert seen == ["default_allocator"]  # a thread started inside runs in its own context
    pybitnet.release_memory()


def test_training_step_same_result_with_and_without():
    from pybitnet import profiling, recipes

    r = recipes.recipe("bnn", dataset="mnist", hidden=128)
    outs = []
    for reuse in (False, True):
        x, y = profiling.random_batch(r, 0)
        model = recipes.build_model(r, profiling.input_shape(r), 10)
        opt, loss_fn = recipes.build_optimizer(r, model, update_in_backward=True), recipes.build_loss(r)
        ctx = pybitnet.reuse_memory() if reuse else contextlib.nullcontext()
        with ctx:
            for _ in range(3):
                opt.zero_grad()
                loss, g = loss_fn(model.forward(x), y)
                model.backward(g)
                opt.step()
        outs.append([p.view().copy() for p in model.parameters()] + [loss])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    pybitnet.release_memory()

