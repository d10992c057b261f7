//! Testbed servers and simulation for mcp-oauth (being written).
