"""Start Deno's Jupyter kernel so that it ends with the agent that started it.

ipykernel and the project's own wrapper kernels watch their parent; Deno does not, so an agent
killed outright would leave it running. PR_SET_PDEATHSIG survives exec: Deno gets SIGKILL when
the process that started it dies. (The agent starts kernels from its event-loop thread, which
lives as long as the agent.)
"""

import ctypes
import os
import signal
import sys

from deno import find_deno_bin

PR_SET_PDEATHSIG = 1

parent = os.getppid()
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
    sys.exit(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
if os.getppid() != parent:  # the parent died before the request took effect
    sys.exit(1)
deno = os.fsdecode(find_deno_bin())
os.execv(deno, [deno, *sys.argv[1:]])
