{#- The time window of the Dagster partition being built, passed as vars min_ts / max_ts
    (ISO 8601 with offset). Without them (a full build) every row is in the window. -#}
{% macro in_partition_window(column, before='0 seconds', after='0 seconds') -%}
    {%- if var('min_ts', none) is not none and var('max_ts', none) is not none -%}
        {{ column }} >= '{{ var("min_ts") }}'::timestamptz - interval '{{ before }}'
        and {{ column }} < '{{ var("max_ts") }}'::timestamptz + interval '{{ after }}'
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of incremental models: remove the window's rows before they are built again, so
    re-materialising a partition gives identical tables. -#}
{% macro delete_partition_window(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_partition_window(column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
