"""Ranks as threads: a stand-in for an MPI communicator's allgather/allreduce/bcast in one process.

Lets a test run the same collective code on several "ranks" and compare with one process,
without mpiexec. Only the calls the library's statistics use are provided.
"""

import threading


class ThreadedComm:
    def __init__(self, rank, shared):
        self.rank, self.shared = rank, shared

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.shared["size"]

    def allgather(self, value):
        shared = self.shared
        shared["slots"][self.rank] = value
        shared["barrier"].wait()
        result = list(shared["slots"])
        shared["barrier"].wait()                     # nobody overwrites a slot before all have read
        return result

    def allreduce(self, value):
        parts = self.allgather(value)
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def bcast(self, value, root=0):
        return self.allgather(value)[root]


def run_ranks(size, work):
    """Call ``work(comm)`` on ``size`` threads, one per rank; return the results in rank order."""
    shared = {"size": size, "slots": [None] * size, "barrier": threading.Barrier(size)}
    results, errors = [None] * size, []

    def run(rank):
        try:
            results[rank] = work(ThreadedComm(rank, shared))
        except BaseException as error:               # reported below, after every thread ends
            errors.append(error)
            shared["barrier"].abort()

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
