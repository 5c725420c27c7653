{#- Schemas are named by layer (staging, intermediate, marts, finance) in every environment:
    the names are the platform's public contract, so no target prefix is added. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
