import torch

# One torch thread: on a shared 2-core machine, multi-threaded torch runs were
# seen to slow down 20-70x when another process was busy; one thread is also
# faster for these small networks.
torch.set_num_threads(1)
