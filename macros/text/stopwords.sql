{% macro stopwords() -%}
    {#- English function words plus call filler: words that say nothing about a passage's
        content. A parenthesised SQL list, for `token not in {{ stopwords() }}`. -#}
    {%- set words = [
        'a', 'about', 'above', 'after', 'again', 'against', 'all', 'also', 'am', 'an', 'and', 'any', 'are',
        'as', 'at', 'be', 'because', 'been', 'before', 'being', 'below', 'between', 'both', 'but', 'by',
        'can', 'could', 'did', 'do', 'does', 'doing', 'down', 'during', 'each', 'few', 'for', 'from',
        'further', 'had', 'has', 'have', 'having', 'he', 'her', 'here', 'hers', 'him', 'his', 'how', 'i',
        'if', 'in', 'into', 'is', 'it', 'its', 'itself', 'just', 'me', 'more', 'most', 'my', 'no', 'nor',
        'not', 'now', 'of', 'off', 'on', 'once', 'only', 'or', 'other', 'our', 'ours', 'out', 'over',
        'own', 'same', 'she', 'should', 'so', 'some', 'such', 'than', 'that', 'the', 'their', 'them',
        'then', 'there', 'these', 'they', 'this', 'those', 'through', 'to', 'too', 'under', 'until', 'up',
        'very', 'was', 'we', 'were', 'what', 'when', 'where', 'which', 'while', 'who', 'whom', 'why',
        'will', 'with', 'would', 'you', 'your', 'yours', 'yes', 'okay', 'ok', 'yeah', 'thank', 'thanks',
        'think', 'know', 'really', 'well', 'going', 'get', 'got', 'lot', 'kind', 'like', 'one', 'us',
        'may', 'might', 'must', 'shall', 'per', 'within', 'upon', 'whether', 'however', 'although',
    ] -%}
    ({% for word in words %}{{ sql_string(word) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
