"""The core ledger: position arrays, kernels, holds, supply, replay.

Imports nothing from storage adapters, services or the face."""
