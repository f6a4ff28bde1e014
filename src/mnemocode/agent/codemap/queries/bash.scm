(function_definition name: (word) @name) @definition.function

(command_name (word) @reference)
(variable_name) @reference
