"""Operations on an unlocked store: import, search, reading, deletion, key rotation, checking, backups and exports."""
