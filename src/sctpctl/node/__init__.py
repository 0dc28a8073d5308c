"""Node-level configuration as pure functions: MachineConfig and Ignition rendering and checks."""
