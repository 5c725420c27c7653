{#- The latest stored version of every key of a versioned raw registry table. Versions are
    ordered by the file that brought them (load order) and the line within that file. -#}
{% macro latest_versions(relation, keys) -%}
    select distinct on ({{ keys | join(', ') }}) *
    from {{ relation }}
    order by {{ keys | join(', ') }}, file_id desc, source_line desc
{%- endmacro %}
