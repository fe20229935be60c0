"""The compiled chunk of batches: one loop over a chunk's batches, for one thread or several.

:func:`run_chunk` is the numba engine's one batch: gather (and the input stage of
:mod:`.numba_input`), forward, loss, backward, L2 and the optimizer step, with the rules of
:mod:`.numba_kernels`. On several threads each batch is split by rows, one block per thread:
each thread takes its rows through the same kernels, its weight gradients into its own vector.
Two barriers a batch: after the backward pass, each thread adds up every part's gradient over
its own range of the parameters and takes the optimizer step there; after the step, every
thread again sees the whole new parameter vector. BLAS runs single-threaded inside each part
(the engine limits it), so the threads never compete with BLAS's own. The first part runs in
the calling thread; alone, it passes the barriers at once.
On x86, a chunk runs with subnormal numbers flushed to zero (:data:`FLUSH_SUBNORMALS`).

Results on threads equal those of one thread up to rounding: a weight gradient is summed over
each block of rows, then over the blocks. The same number of threads gives bit-identical results.
"""

from __future__ import annotations

import math
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import numba_input
from . import numba_kernels as kernels


def _item_pointer(context, builder, signature, args):
    """The address of ``array[index]`` for an intrinsic called as ``(array, index)``."""
    array = context.make_array(signature.args[0])(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1]])


@intrinsic
def _atomic_add(typingctx, counters, index):
    """``counters[index] += 1`` as one atomic operation; returns nothing."""
    def codegen(context, builder, signature, args):
        builder.atomic_rmw("add", _item_pointer(context, builder, signature, args), ir.Constant(ir.IntType(64), 1),
                           "seq_cst")
        return context.get_dummy_value()
    return types.void(counters, index), codegen


@intrinsic
def _atomic_read(typingctx, counters, index):
    """``counters[index]``, read atomically (never hoisted out of a waiting loop)."""
    def codegen(context, builder, signature, args):
        return builder.load_atomic(_item_pointer(context, builder, signature, args), "seq_cst", 8)
    return types.int64(counters, index), codegen


@intrinsic
def _yield_cpu(typingctx):
    """``sched_yield()``: let another runnable thread have this core (POSIX)."""
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                                  "sched_yield")
        builder.call(function, [])
        return context.get_dummy_value()
    return types.void(), codegen


#: x86's control bits that flush subnormal results to zero (FTZ) and read subnormal inputs as
#: zero (DAZ): arithmetic on numbers below 2.2e-308 otherwise takes microcode, up to a hundred
#: times slower, and Adam with L2 drives the weights of a dead unit there and keeps them there.
FLUSH_SUBNORMALS = (1 << 15) | (1 << 6)
X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


@intrinsic
def _read_float_mode(typingctx):
    """The calling thread's x86 floating-point control word (MXCSR)."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()]), "llvm.x86.sse.stmxcsr")
        builder.call(function, [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return builder.load(slot)
    return types.int32(), codegen


@intrinsic
def _write_float_mode(typingctx, mode):
    """Set the calling thread's MXCSR to ``mode``."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once_value(builder, args[0])
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()]), "llvm.x86.sse.ldmxcsr")
        builder.call(function, [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return context.get_dummy_value()
    return types.void(mode), codegen


if X86:
    @njit(cache=True, nogil=True)
    def flush_subnormals():
        """Flush subnormal numbers to zero on this thread; returns the mode to restore."""
        mode = _read_float_mode()
        _write_float_mode(mode | FLUSH_SUBNORMALS)
        return mode

    @njit(cache=True, nogil=True)
    def restore_float_mode(mode):
        """Give this thread back the floating-point mode :func:`flush_subnormals` returned."""
        _write_float_mode(mode)
else:                                    # (elsewhere subnormals keep their own cost)
    @njit(cache=True, nogil=True)
    def flush_subnormals():
        """No-op off x86; returns 0."""
        return 0

    @njit(cache=True, nogil=True)
    def restore_float_mode(mode):
        """No-op off x86."""


#: Reads of the barrier's counter before a waiting thread starts giving its core away.
SPINS = 2000


@njit(cache=True, nogil=True)
def barrier(counters, parts, passed):
    """Wait until all ``parts`` threads have arrived here; ``passed`` counts this thread's
    earlier barriers (every thread passes the same ones), and the new count is returned.
    Waits are short (the threads do equal work), so they spin; a thread still waiting after
    :data:`SPINS` reads yields its core, in case the late thread needs it."""
    _atomic_add(counters, 0)
    spins = 0
    while _atomic_read(counters, 0) < parts * (passed + 1):
        spins += 1
        if spins > SPINS:
            _yield_cpu()
    return passed + 1


@njit(cache=True, nogil=True, error_model="numpy")
def half_squares(params, l2):
    """``l2/2 · Σ W²`` over a block of weights."""
    squares = 0.0
    for i in range(params.size):
        squares += params[i] * params[i]
    return 0.5 * l2 * squares


#: Parameters stepped at a time: the parts' gradients are added while the piece is in cache.
STEP_PIECE = 16384


@njit(cache=True, nogil=True, error_model="numpy")
def step_block(code, params, grads, partials, p0, first, second, c, n_weights, l2):
    """On one thread's block of the parameters, from ``p0`` (views of it, but ``partials``
    whole): the other parts' gradients added to ``grads``, the L2 penalty's gradient ``l2 W``
    on the block's first ``n_weights`` entries (its weights), then the optimizer's step with
    the constants ``c``; piece by piece, so that each piece is read from memory once. Each loop
    runs over contiguous views, so that it vectorises."""
    for start in range(0, params.size, STEP_PIECE):
        stop = min(start + STEP_PIECE, params.size)
        g = grads[start:stop]
        for other in range(partials.shape[0]):
            partial = partials[other, p0 + start:p0 + stop]
            for i in range(g.size):
                g[i] += partial[i]
        if l2 > 0 and start < n_weights:
            W, dW = params[start:min(stop, n_weights)], g[:min(stop, n_weights) - start]
            for i in range(dW.size):
                dW[i] += l2 * W[i]
        kernels.update_range(code, params[start:stop], g, first[start:stop], second[start:stop], c, 0, g.size)


@njit(cache=True, nogil=True, error_model="numpy")
def batch_weight(sample_weight, order, start, rows):
    """The weight of the batch's rows (their count without sample weights), summed in the
    order :func:`numba_kernels.gather` sums it, so that every thread finds the same value."""
    if sample_weight.size == 0:
        return float(rows)
    weight = 0.0
    for r in range(rows):
        weight += sample_weight[order[start + r]]
    return weight


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def batch_loss(shared):
    """The batch's loss from every part's share: their losses, then their L2 penalties."""
    value = 0.0
    for other in range(shared.shape[1]):
        value += shared[0, other]
    for other in range(shared.shape[1]):
        value += shared[1, other]
    return value


@njit(cache=True, nogil=True, error_model="numpy")
def gather_and_embed(data, net, work, order, start, rows):
    """Rows ``order[start:start + rows]`` of ``X`` into the first layer's input (through the input
    stage when there is one: ``X``'s rows go to ``work.R`` first), their targets and sample
    weights; for a sparse first layer, the places of each row's nonzero inputs (before the input
    scale: where the scale's gradient needs them)."""
    first = net.layers[0]
    if net.stage.active:
        kernels.gather(data.X, data.Y, data.sample_weight, order, start, rows, work.R, work.Yb, work.row_scale)
        numba_input.input_forward(net.stage, net.params, work.R, work.A, work.P, work.U, work.S, work.H, rows,
                                  work.places, first.sparse_in)
    else:
        kernels.gather(data.X, data.Y, data.sample_weight, order, start, rows, work.A, work.Yb, work.row_scale)
        if first.sparse_in:
            kernels.nonzero_places(work.A, rows, first.fan_in, work.places)


@njit(cache=True, nogil=True, error_model="numpy")
def stage_backward(net, grads, work, rows, block_rows):
    """The input stage's gradients into ``grads``: ``δ Wᵀ`` of the first layer (where a sparse
    input leaves most of it unused, only the entries used), then back through the scale and the
    periodic embeddings."""
    first = net.layers[0]
    if first.sparse_in:
        numba_input.needed_input_gradient(net.stage, work.D, first.z_at * block_rows, net.params, first.w_start,
                                          work.E, work.P, work.places, rows, first.fan_out)
    else:
        kernels.matmul_a_bt(work.D, first.z_at * block_rows, net.params, first.w_start, work.E, 0, rows,
                            first.fan_in, first.fan_out)
    numba_input.input_backward(net.stage, net.params, grads, work.R, work.E, work.P, work.S, work.H, rows,
                               work.places, first.sparse_in)


@njit(cache=True, nogil=True, error_model="numpy")
def summed_row_loss(data, net, work, block_rows, outputs):
    """The loss of every row of ``data.X`` in turn (no penalty), summed, and each row's output
    into ``outputs``: forward passes of ``block_rows`` rows at a time, nothing trained
    (validation). Subnormals are flushed as in :func:`run_chunk`."""
    mode = flush_subnormals()
    n_rows, out = data.X.shape[0], net.layers[net.layers.shape[0] - 1]
    a_out, n_out = out.a_out * block_rows, out.fan_out
    total = 0.0
    for start in range(0, n_rows, block_rows):
        rows = min(block_rows, n_rows - start)
        gather_and_embed(data, net, work, data.order, start, rows)
        kernels.forward(net.params, net.layers, work.Z, work.A, work.places, rows, block_rows)
        total += kernels.mean_loss(net.loss, net.layers, work.Yb, work.A, work.Z, work.row_scale, rows, block_rows,
                                   1.0)
        for r in range(rows):
            for j in range(n_out):
                outputs[start + r, j] = work.A[a_out + r * n_out + j]
    restore_float_mode(mode)
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def run_chunk(threads, data, net, optimizer, results, work, batch_size, first_batch, n_batches, lr, t):
    """:func:`run_batches` with subnormal numbers flushed to zero (on x86; the thread's mode is
    restored on return): what comes out differs from the reference engine's by less than 1e-307."""
    mode = flush_subnormals()
    done = run_batches(threads, data, net, optimizer, results, work, batch_size, first_batch, n_batches, lr, t)
    restore_float_mode(mode)
    return done


@njit(cache=True, nogil=True, error_model="numpy")
def run_batches(threads, data, net, optimizer, results, work, batch_size, first_batch, n_batches, lr, t):
    """Batches ``first_batch`` .. ``first_batch + n_batches - 1`` of ``data.order``, as thread
    ``threads.part`` of ``threads.parts`` (arguments: :mod:`.numba_codes`' named tuples): this
    thread's block of ``ceil(batch_size / parts)`` rows of each batch, its weight gradients
    into ``net.grads`` (part 0) or ``threads.partials[part - 1]``, the step on its block of the
    parameters. Each batch's loss (L2 included) and weight go to ``results``; a batch whose loss
    is not finite ends the chunk, unapplied, gradients zero. Returns (batches run, step count)."""
    part, parts, shared = threads.part, threads.parts, threads.shared
    params, n_weights, l2 = net.params, net.n_weights, net.l2
    X, order = data.X, data.order
    block_rows = (batch_size + parts - 1) // parts
    block_params = (params.size + parts - 1) // parts
    p0, p1 = min(part * block_params, params.size), min((part + 1) * block_params, params.size)
    mine = net.grads if part == 0 else threads.partials[part - 1]
    code = optimizer.spec[0].code
    passed = 0
    for k in range(n_batches):
        start = (first_batch + k) * batch_size
        rows = min(batch_size, X.shape[0] - start)
        r0 = min(part * block_rows, rows)
        own = min(rows, r0 + block_rows) - r0
        weight = batch_weight(data.sample_weight, order, start, rows)
        if part == 0:
            results.batch_weights[k], results.batch_losses[k] = weight, 0.0
        if weight == 0:
            if part == 0:
                net.grads[:] = 0.0      # only part 0 writes grads outside the step
            continue
        shared[0, part] = 0.0
        if own == 0:                    # the short last batch may leave a part without rows
            mine[:] = 0.0
        else:
            gather_and_embed(data, net, work, order, start + r0, own)
            kernels.forward(params, net.layers, work.Z, work.A, work.places, own, block_rows)
            shared[0, part] = kernels.mean_loss(net.loss, net.layers, work.Yb, work.A, work.Z, work.row_scale, own,
                                                block_rows, weight)
            kernels.keep_outputs(net.layers, work.A, order, start + r0, own, block_rows, results.outputs,
                                 results.trained, work.row_scale, weight, rows)
            kernels.output_delta(net.loss, net.layers, work.Yb, work.A, work.Z, work.D, work.row_scale, own,
                                 block_rows, rows)
            kernels.backward(params, mine, net.layers, work.Z, work.A, work.D, work.places, own, block_rows)
            if net.stage.active:
                stage_backward(net, mine, work, own, block_rows)
        shared[1, part] = half_squares(params[p0:max(min(p1, n_weights), p0)], l2) if l2 > 0 else 0.0
        if parts > 1:                   # (alone, a thread has no one to wait for)
            passed = barrier(threads.counters, parts, passed)
        value = batch_loss(shared)
        if part == 0:
            results.batch_losses[k] = value
        if not math.isfinite(value):
            if part == 0:
                net.grads[:] = 0.0
            return k + 1, t
        t += 1
        step_block(code, params[p0:p1], net.grads[p0:p1], threads.partials, p0, optimizer.first[p0:p1],
                   optimizer.second[p0:p1], kernels.step_constants(optimizer.spec[0], lr, t, params),
                   max(min(p1, n_weights) - p0, 0), l2)
        if parts > 1:                   # (alone, a thread has no one to wait for)
            passed = barrier(threads.counters, parts, passed)
    return n_batches, t

