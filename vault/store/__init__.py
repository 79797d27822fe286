"""The store: the encrypted database, its connection and pragmas, schema, key slots and hardening.

The only package of the vault that imports `sqlcipher3` (in db.py).
"""
