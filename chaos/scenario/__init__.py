"""What a chaos run does, as data: the scenario model, its YAML files and their fields."""
