"""The kernel layer: the only place that uses ctypes.

Nothing here knows about Docker. Functions take and return plain fds, paths and
numbers, and raise :class:`dynvol.errors.KernelError` on failure.
"""
