package demo

// coffeeConfig is examples/coffee/knit.yaml with the generated-file mark in
// place of the schema comment (whose relative path would not resolve from
// an arbitrary folder). The data file names are the example's. A test
// compares the parsed YAML with the example, so the two cannot drift.
const coffeeConfig = generatedMark + ` from the coffee chain example (examples/coffee).
# truth.csv maps every record key to the real person behind it.
sources:
  loyalty:
    file: data/loyalty.csv
    primary_key: LoyaltyID
    updated_at: {column: UpdatedAt, format: "2006-01-02 15:04:05"}
    identifiers: {LoyaltyID: loyalty_id, Email: email, Phone: phone}
    attributes: {FirstName: person.first_name, LastName: person.last_name, City: address.city}
  ecommerce:
    file: data/ecommerce.csv
    primary_key: AccountID
    updated_at: {column: CreatedAt, format: "2006-01-02 15:04:05"}
    identifiers: {AccountID: user_id, Email: email, Phone: phone}
    attributes: {FirstName: person.first_name, LastName: person.last_name}
  web:
    file: data/web_events.csv
    kind: events
    anonymous: true
    primary_key: EventID
    visitor_key: UserID
    timestamp: {column: EventTimeStamp, format: "01-02-2006 15:04:05"}
    identifiers: {UserID: anonymous_id, LoyaltyID: loyalty_id}
  pos:
    file: data/pos.csv
    kind: events
    primary_key: TransactionID
    visitor_key: LoyaltyID
    timestamp: {column: PurchasedAt, format: "2006-01-02 15:04:05"}
    identifiers: {LoyaltyID: loyalty_id, ReceiptEmail: email}
    columns: {Amount: float}

identifiers:
  user_id: {limit: 1}
  loyalty_id: {}
  email: {normalize: email}
  phone: {normalize: phone, default_region: US}
  anonymous_id: {known: false, limit: 20}

guards:
  # The stores' shared walk-in card is also caught by generic-value
  # detection below; listing it makes the intent explicit.
  generic_threshold: 3

unify:
  order: [loyalty, ecommerce, pos, web]
  include_all_records: [loyalty, ecommerce]
  dedupe:
    loyalty:
      winner: most_recent
      rules:
        - name: same email
          conditions: [{field: email}]
  rules:
    - name: same last name and phone
      conditions: [{field: person.last_name}, {field: phone}]

fields:
  person.first_name: {policy: most_recent}
  person.last_name: {policy: most_recent, normalize: name}
  address.city: {policy: source_priority}

overrides:
  never_match: overrides/never_match.csv
  always_match: overrides/always_match.csv
`
