-- Strategy filing_figure_questions: an analyst's question, written from a template -> the filing chunk
-- that states the figures answering it. The question-shaped pairs TAT-QA and ConvFinQA ask for ("What was
-- the change in net revenue from 2018 to 2019?" -> the report's table or paragraph), made without labels
-- or a model: the line item or metric and the period come from the chunk itself.
--   * table rows: filing chunks flatten tables to "<line item> $ 10,746 $ 9,927 ...". A line item is a
--     label (2-12 words, upper-case first, no digits, no article, balanced parentheses) directly followed
--     by two amounts (1,234 / 12.5 / (629) / 5%; a year or a date is no amount), in a chunk with >= var
--     filing_question_min_table_rows such rows. Its question takes one of four templates by a fixed hash:
--     "What was <company>'s <item> in <period>?" (two in five), "What was the change in <company>'s
--     <item> from <previous> to <period>?", "What was the percentage change in ...", "What was the
--     average <item> of <company> for <previous> and <period>?". The period is the chunk's fiscal year,
--     or the later year of the chunk's own year header ("2018 2017") when that header leaves the fiscal
--     year out; a quarter's (10-Q, earnings release) is "Q3 2023", and its previous one "Q3 2022".
--   * figure sentences (MD&A prose): "<metric> [in fiscal 2019 | for the year ended ...] increased /
--     decreased / grew / declined / rose / fell <figure> ..." asks "What was the change in <company>'s
--     <metric> <when>?", and "<metric> was / were / totaled <figure> ..." asks "What was <company>'s
--     <metric> <when>?"; <when> is the sentence's own period ("for the year ended September 30, 2020",
--     "as of May 31, 2019", "in fiscal 2018"), else the chunk's. The metric names a financial quantity
--     (revenue, income, cash, ...), and is no pronoun, reason, sentence opening or heading run into it
--     ("This increase was", "Additionally, ...", "Results of Operations Total revenue").
--   * the company is the ticker's display name: a mixed-case spelling first, "Inc", "Corp", a trailing
--     "/" or state tag dropped, an all-capital name title-cased ("WALT DISNEY CO/" -> "Walt Disney").
--   * a question pairs once (a figure recurs in later filings and in several tables): with its earliest
--     chunk; and a chunk answers one question (a fixed hash order). So no anchor has two positives and no
--     positive two anchors.
-- The anchor is free text (null anchor_chunk_id) written from the positive's own document: it takes the
-- positive's doc_id and knowledge_ts. The positive is the whole chunk.
{%- set table_row -%}
    ([A-Z][A-Za-z&,'’/\- ()]{2,80}?)(?:\s*\(\d\))?\s+\$?\s?\(?(\d{1,3}(?:,\d{3})*(?:\.\d+)?)\)?\s*%?\s+\$?\s?\(?(\d{1,3}(?:,\d{3})*(?:\.\d+)?)\)?
{%- endset %}
{%- set year_header -%}
    (?:^|[^\d,.$])((?:19|20)\d\d)\s+(?:% [Cc]hange\s+)?((?:19|20)\d\d)(?:[^\d,]|$)
{%- endset %}
{%- set month -%}
    (?:January|February|March|April|May|June|July|August|September|October|November|December)
{%- endset %}
{%- set figure_sentence -%}
    ^[•\s]*(?:[A-Z][A-Za-z ,&'’\-]{0,60}: )?(?:(?:Our|The|Its) )?([A-Za-z][A-Za-z ,&'’\-]{2,70}?)(?: ((?:for|in|during|at|as of) (?:the )?(?:(?:fiscal )?(?:years?|quarters?|three months|six months|nine months|twelve months) ended )?(?:{{ month }} \d{1,2}, )?(?:fiscal (?:year )?)?(?:19|20)\d\d))?,? (increased|decreased|grew|declined|rose|fell|was|were|totaled|totalled|amounted to) (?:by |to )?(?:approximately |about )?(?:\$ ?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)? ?(?:%|percent))(.*)$
{%- endset %}
{#- what a line item is not: a period, a reference, prose, a fragment -#}
{%- set not_item_endings -%}
    (?i)\b(fiscal|years?|quarters?|months|weeks|ended|ending|January|February|March|April|May|June|July|August|September|October|November|December|and|of|for|in|to|or|by|from|with|at|on)$
{%- endset %}
{%- set not_item_openings -%}
    (?i)^(as of|for the|three|six|nine|twelve|fiscal|quarter|page|exhibit|section|note|item|form|table|part|schedule)\b
{%- endset %}
{%- set not_item_words -%}
    (?i)\b(the|a|an|we|our|us|is|are|was|were|be|been|has|have|had|increased|decreased|totaled|dated|due|compared|see|million|billion|thousand|percent|approximately)\b
{%- endset %}
{#- what a metric is: a financial quantity, not a pronoun, a reason or a sentence's opening words -#}
{%- set metric_words -%}
    (?i)(revenue|sales|income|expense|cost|margin|earnings|profit|cash|assets|liabilit|debt|tax|dividend|capital|deposit|loan|obligation|provision|amortization|depreciation|compensation|yield|backlog|bookings|proceeds|spending|expenditure|inventor|receivable|payable|equity|goodwill|reserve|contribution|charge|loss|gain|borrowing|interest|per share|ebitda)
{%- endset %}
{%- set not_metric_words -%}
    (?i)\b(there|this|these|that|those|it|its|which|who|whose|such|we|our|us|they|their|increase|decrease|increases|decreases|reason|primary|primarily|due|result|effect|impact|change|changes|is|are|be|been|has|have|had|will|would|may)\b
{%- endset %}
{%- set not_metric_openings -%}
    (?i)^(in|at|on|for|during|as|from|by|with|within|of|and|but|however|additionally|also|further|furthermore|overall|accordingly|consequently|similarly|finally|then|while|although|since|because|if|when)\b
{%- endset %}
with chunks as (

    select
        *,
        regexp_full_match(fiscal_period, 'FY\d{4}') as is_annual
    from {{ ref('int_chunks_curated') }}
    where chunk_kind = 'filing' and ticker is not null and fiscal_year is not null

),

company_spellings as (

    -- a mixed-case spelling ("FedEx") before an all-capital one ("FEDEX CORP"), then the shortest
    select
        ticker,
        regexp_replace(
            regexp_replace(trim(company), '\s*\\[A-Za-z]{2}\\$|\s*/+$', ''),
            '(?i),?\s+(inc|corp|corporation|co|ltd|llc|plc)\.?$',
            ''
        ) as company_name
    from chunks
    where company is not null
    qualify row_number() over (
            partition by ticker order by company = upper(company), length(company), company
        ) = 1

),

companies as (

    select
        ticker,
        display_name || case when display_name like '%s' then '''' else '''s' end as company_possessive,
        display_name as company_name
    from (
        select
            ticker,
            case when company_name = upper(company_name) then title_case_name else company_name end as display_name
        from (
            select
                ticker,
                company_name,
                array_to_string(
                    list_transform(
                        string_split(company_name, ' '),
                        word -> if(regexp_full_match(word, '[A-Z]{3,}'), word[1] || lower(word[2:]), word)
                    ),
                    ' '
                ) as title_case_name
            from company_spellings
        ) as spellings
    ) as display_names

),

year_headers as (

    -- the chunk's first year header: two years a year apart ("2018 2017", "2021 % Change 2020")
    select
        chunk_id,
        try_cast(nullif(regexp_extract(chunk_text, {{ sql_string(year_header) }}, 1), '') as integer) as first_year,
        try_cast(nullif(regexp_extract(chunk_text, {{ sql_string(year_header) }}, 2), '') as integer) as second_year
    from chunks

),

periods as (

    -- the period a question asks about, and the one before it: "2022" and "2021", or "Q3 2023" and "Q3 2022"
    select
        chunk_id,
        company_name,
        company_possessive,
        quarter_prefix || period_year as period_label,
        quarter_prefix || (period_year - 1) as previous_label
    from (
        select
            chunks.chunk_id,
            companies.company_name,
            companies.company_possessive,
            case when chunks.is_annual then '' else 'Q' || right(chunks.fiscal_period, 1) || ' ' end as quarter_prefix,
            case
                when abs(year_headers.first_year - year_headers.second_year) = 1
                    and chunks.fiscal_year not in (year_headers.first_year, year_headers.second_year)
                    then greatest(year_headers.first_year, year_headers.second_year)
                else chunks.fiscal_year
            end as period_year
        from chunks
        inner join companies on chunks.ticker = companies.ticker
        inner join year_headers on chunks.chunk_id = year_headers.chunk_id
    ) as chunk_periods

),

-- table rows: a line item and the two amounts after it
table_rows as (

    select
        chunk_id,
        unnest(regexp_extract_all(chunk_text, {{ sql_string(table_row) }})) as row_text
    from chunks

),

line_items as (

    select
        chunk_id,
        -- "ASSETS CURRENT ASSETS Cash and cash equivalents": the table's capital headings are cut
        trim(
            regexp_replace(
                regexp_replace(
                    regexp_extract(row_text, {{ sql_string(table_row) }}, 1),
                    '^(?:[A-Z][A-Z&,]+\s+)+([A-Z][a-z])',
                    '\1'
                ),
                '[\s,(/&\-]+$',
                ''
            )
        ) as item,
        regexp_extract(row_text, {{ sql_string(table_row) }}, 2) as first_amount,
        regexp_extract(row_text, {{ sql_string(table_row) }}, 3) as second_amount
    from table_rows

),

table_items as (

    select distinct
        chunk_id,
        item
    from line_items
    where
        regexp_matches(first_amount || ' ' || second_amount, '[.,]|\d{3}')
        and len(string_split(item, ' ')) between 2 and 12
        and length(item) >= 6
        and length(replace(item, '(', '')) = length(replace(item, ')', ''))
        and not regexp_matches(item, {{ sql_string(not_item_endings) }})
        and not regexp_matches(item, {{ sql_string(not_item_openings) }})
        and not regexp_matches(item, {{ sql_string(not_item_words) }})
        -- a heading run into the label ("... earnings That Did Not Impact Earnings Total ...")
        and not regexp_matches(item, '[a-z][a-z,)]* (?:[A-Z][a-z]+ ){2,}')

),

table_chunks as (

    select chunk_id
    from table_items
    group by chunk_id
    having count(*) >= {{ number_var('filing_question_min_table_rows') }}

),

table_questions as (

    select
        periods.chunk_id,
        periods.company_name,
        periods.company_possessive,
        periods.period_label,
        periods.previous_label,
        -- as the table writes it, but "NET SALES" -> "net sales"
        case when table_items.item = upper(table_items.item) then lower(table_items.item) else table_items.item end
            as item_text,
        floor({{ stable_fraction('periods.chunk_id || table_items.item', 'filing_figure_questions_template') }} * 5)
            as template_no
    from table_items
    inner join table_chunks on table_items.chunk_id = table_chunks.chunk_id
    inner join periods on table_items.chunk_id = periods.chunk_id

),

-- figure sentences of MD&A prose
sentences as (

    select
        chunk_id,
        unnest({{ sentences('chunk_text') }}) as sentence
    from chunks

),

figure_sentences as (

    select
        chunk_id,
        regexp_extract(sentence, {{ sql_string(figure_sentence) }}, 1) as subject,
        regexp_extract(sentence, {{ sql_string(figure_sentence) }}, 2) as sentence_period,
        regexp_extract(sentence, {{ sql_string(figure_sentence) }}, 3) as verb,
        regexp_extract(sentence, {{ sql_string(figure_sentence) }}, 4) as rest
    from sentences
    where regexp_matches(sentence, {{ sql_string(figure_sentence) }})

),

metrics as (

    -- a heading run into its sentence: the subject's first word comes back ("Segment Operating Income Segment
    -- operating income", "Revenues Service revenues"), and the sentence's own subject starts at the last
    -- capitalised word up to that repeat ("Segment operating income", "Service revenues")
    select
        chunk_id,
        sentence_period,
        verb,
        rest,
        rtrim(trim(substr(subject, heading_length + 1)), ', ') as metric
    from (
        select
            *,
            case
                when repeat_at > 0 then length(regexp_extract(substr(subject, 1, repeat_at + 1), '^(.*\s)[A-Z]', 1))
                else 0
            end as heading_length
        from (
            select
                *,
                strpos(lower(subject) || ' ', ' ' || lower(split_part(subject, ' ', 1)) || ' ') as repeat_at
            from figure_sentences
        ) as repeats
    ) as subjects

),

sentence_questions as (

    select
        periods.chunk_id,
        periods.company_possessive,
        metrics.verb in ('was', 'were', 'totaled', 'totalled', 'amounted to') as is_level,
        -- mid-sentence case: "Advertising expense" -> "advertising expense"; "R&D", "FedEx Express" stay
        case
            when metrics.metric = upper(metrics.metric) then lower(metrics.metric)
            when regexp_matches(metrics.metric, '^[A-Z][a-z]+(\s|$)')
                then lower(metrics.metric[1]) || metrics.metric[2:]
            else metrics.metric
        end as metric_text,
        coalesce(
            nullif(metrics.sentence_period, ''),
            'as of '
            || nullif(regexp_extract(metrics.rest, '(?:as of|at) ({{ month }} \d{1,2}, (?:19|20)\d\d)', 1), ''),
            'in ' || nullif(regexp_extract(metrics.rest, '\b((?:fiscal (?:year )?)?(?:19|20)\d\d)\b', 1), ''),
            'in ' || periods.period_label
        ) as when_text
    from metrics
    inner join periods on metrics.chunk_id = periods.chunk_id
    where
        len(string_split(metrics.metric, ' ')) between 1 and 10
        and length(metrics.metric) >= 4
        and length(replace(metrics.metric, '(', '')) = length(replace(metrics.metric, ')', ''))
        and regexp_matches(metrics.metric, {{ sql_string(metric_words) }})
        and not regexp_matches(metrics.metric, {{ sql_string(not_metric_words) }})
        and not regexp_matches(metrics.metric, {{ sql_string(not_metric_openings) }})
        -- a heading run into the subject ("Results of Operations Total revenue")
        and not regexp_matches(metrics.metric, '[a-z][a-z,)]* (?:[A-Z][a-z]+ ){2,}')

),

questions as (

    select
        chunk_id,
        case
            when template_no = 2
                then 'What was the change in ' || company_possessive || ' ' || item_text
                    || ' from ' || previous_label || ' to ' || period_label || '?'
            when template_no = 3
                then 'What was the percentage change in ' || company_possessive || ' ' || item_text
                    || ' from ' || previous_label || ' to ' || period_label || '?'
            when template_no = 4
                then 'What was the average ' || item_text || ' of ' || company_name
                    || ' for ' || previous_label || ' and ' || period_label || '?'
            else 'What was ' || company_possessive || ' ' || item_text || ' in ' || period_label || '?'
        end as question
    from table_questions
    union all
    select
        chunk_id,
        case
            when is_level then 'What was ' || company_possessive || ' ' || metric_text || ' ' || when_text || '?'
            else 'What was the change in ' || company_possessive || ' ' || metric_text || ' ' || when_text || '?'
        end as question
    from sentence_questions

),

first_asked as (

    -- a question pairs once: with its earliest chunk
    select
        questions.chunk_id,
        questions.question
    from questions
    inner join chunks on questions.chunk_id = chunks.chunk_id
    qualify row_number() over (
            partition by lower(questions.question) order by chunks.knowledge_ts asc, chunks.chunk_id asc
        ) = 1

),

chosen as (

    -- a chunk answers one question
    select *
    from first_asked
    qualify row_number() over (
            partition by chunk_id
            order by {{ stable_fraction('chunk_id || question', 'filing_figure_questions_pick') }}, question
        ) = 1

),

pairs as (

    select
        {{ text_anchor_pair_columns('chunks.doc_id', 'chosen.question', 'chunks.knowledge_ts', 'chunks') }}
    from chosen
    inner join chunks on chosen.chunk_id = chunks.chunk_id

)

{{ select_pair_contract('filing_figure_questions', 'pairs') }}
