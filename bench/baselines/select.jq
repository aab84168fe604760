# select.jq - bench/leads.sync's selection and ten maps as a jq filter: what
# a scripter would write instead of tandem (issue 6, case 2).
#
#   jq -c -S -f bench/baselines/select.jq DIR/sf/Lead/*.json      (query pages)
#   jq -c -S -f bench/baselines/select.jq DIR/leads.jsonl          (one lead a line)
#
# Prints one line per lead that would be created, in the benchmark's
# canonical form (bench/README.md): a JSON object with sorted keys (-S),
# "id" the lead's Id plus each mapped ActiveCampaign field under the name
# tandem writes, null values left out as tandem's plan leaves them out.
# Text compares case-sensitively, as the rule language does.  (jq writes
# U+007F as \u007f where Python's json does not; the data has none.)

# blank: null or empty text (docs/language.md)
def blank: . == null or . == "";

# number -> text with two decimals, as `as text(decimals = 2)`.  jq 1.6 has
# no printf: go through whole cents (the data has at most two decimals, so
# rounding the scaled value is exact) and avoid `%`, which jq 1.5 does in
# 32 bits.
def two_decimals:
  (. * 100 | round) as $c
  | ($c / 100 | floor) as $units
  | ($c - $units * 100 | tostring) as $cents
  | "\($units).\(if ($cents | length) < 2 then "0" + $cents else $cents end)";

(if type == "object" and has("records") then .records[] else . end)
| select((.Email | blank | not)                          # skip unless Email is not blank
    and .Status != "Closed - Not Converted"             # a blank is != any value: null passes
    and (.LeadSource | IN("Web", "Partner Referral", "Purchased List", "Trade Show"))
    and (.Country | IN("Germany", "France", "Italy", "Spain", "Portugal", "Austria", "Netherlands"))
    and ((.Email // "") | endswith("@example.invalid") | not))
| {id: .Id,
   firstName: .FirstName,
   lastName: .LastName,
   email: .Email,
   phone: .Phone,
   orgname: .Company,
   Industry: .Industry,
   City: .City,
   Country: .Country,
   "Lead Source": .LeadSource,
   "Annual Revenue": (.AnnualRevenue | if . == null then null else two_decimals end)}
| with_entries(select(.value != null))
