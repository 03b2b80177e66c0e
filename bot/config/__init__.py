"""The settings: YAML with lines, environment substitution, validated sections, errors that name
the key."""
