"""The kale-argo command: parse, call a layer, render. No logic of its own."""
