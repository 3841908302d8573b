package demo

import (
	"path/filepath"
	"strconv"
	"strings"
)

// The time window of the generated data: three years from 2021-01-01 UTC.
const (
	windowStart = 1609459200
	windowSpan  = 3 * 365 * 86400
)

// walkInCard is the loyalty card a store keeps at the till for customers
// who have none; many people's receipts carry it.
const (
	walkInCard     = "9999"
	walkInPersonID = "store-card-9999" // its truth: the store, not a person
)

// Loyalty IDs and account numbers start above the walk-in card so that no
// member's ID can collide with it.
const (
	firstLoyaltyID = 100_000
	firstAccountID = 1_000_000
)

// person is one real human of the coffee world.
type person struct {
	id         string // P<n>, the ground truth
	first      string // formal first name
	last       string
	email      string // main address, lower case
	phone      phone
	city       *city
	loyaltyIDs []string // [0] the enrolment, [1] a duplicate one if any
	devices    []string // anonymous web IDs
	since      int64    // unix seconds the person first meets the chain
}

type coffeeGen struct {
	opt   Options
	r     rng
	first zipf
	last  zipf
	city  zipf
	dom   zipf

	loyalty, ecommerce, web, pos, truth *csvFile

	st       Stats
	emails   identSet // main emails in use, to keep them unique per person
	idents   identSet
	row      []byte
	persons  int64
	members  int64 // loyalty enrolments so far
	accounts int64
	events   int64
	txns     int64
	walkIn   bool // the walk-in card's truth row is written
}

func generateCoffee(dir string, opt Options) (Stats, error) {
	g := &coffeeGen{
		opt:    opt,
		r:      newRNG(opt.Seed, 1),
		first:  newZipf(len(firstNames), 0.9),
		last:   newZipf(len(lastNames), 0.9),
		city:   newZipf(len(cities), 1.1),
		dom:    newZipf(len(emailDomains), 1.2),
		emails: identSet{},
		idents: identSet{},
		row:    make([]byte, 0, 256),
	}
	st, err := g.run(dir)
	if err != nil {
		return Stats{}, err
	}
	return st, nil
}

func (g *coffeeGen) run(dir string) (Stats, error) {
	if err := writeSmallFile(filepath.Join(dir, "knit.yaml"), coffeeConfig, &g.st); err != nil {
		return Stats{}, err
	}
	for _, name := range []string{"never_match.csv", "always_match.csv"} {
		if err := writeSmallFile(filepath.Join(dir, "overrides", name), "left,right\n", &g.st); err != nil {
			return Stats{}, err
		}
	}
	files := []struct {
		dst    **csvFile
		path   string
		header string
	}{
		{&g.loyalty, "data/loyalty.csv", "LoyaltyID,FirstName,LastName,Email,Phone,City,UpdatedAt"},
		{&g.ecommerce, "data/ecommerce.csv", "AccountID,Email,FirstName,LastName,Phone,CreatedAt"},
		{&g.web, "data/web_events.csv", "EventID,EventTimeStamp,UserID,LoyaltyID,EventName"},
		{&g.pos, "data/pos.csv", "TransactionID,StoreID,LoyaltyID,ReceiptEmail,PurchasedAt,Amount,Items"},
		{&g.truth, "truth.csv", "record_key,person_id"},
	}
	for _, f := range files {
		c, err := createCSV(filepath.Join(dir, f.path), f.header)
		if err != nil {
			closeAll(g.loyalty, g.ecommerce, g.web, g.pos, g.truth)
			return Stats{}, err
		}
		*f.dst = c
	}

	customers := int64(g.opt.Customers)
	anonymous := int64(float64(customers) * g.opt.AnonymousVisitors)
	var done, anonDone int64
	for done < customers {
		size := int64(1)
		if done+1 < customers && g.r.chance(g.opt.HouseholdShare/(2-g.opt.HouseholdShare)) {
			// A household of two holds two customers, so the pair rate
			// p/(2-p) puts a share p of customers in households.
			size = 2
		}
		g.household(int(size))
		done += size
		// Interleave anonymous-only visitors evenly among customers.
		for anonDone < anonymous*done/customers {
			g.anonymousVisitor()
			anonDone++
		}
	}
	g.st.Customers = customers
	g.st.People = g.persons
	g.st.DistinctIdentifiers += int64(len(g.idents))

	err := closeAll(g.loyalty, g.ecommerce, g.web, g.pos, g.truth)
	for _, c := range []*csvFile{g.loyalty, g.ecommerce, g.web, g.pos, g.truth} {
		g.st.Bytes += c.bytes
	}
	return g.st, err
}

// newPerson draws a person with a unique main email.
func (g *coffeeGen) newPerson(c *city, last string) *person {
	g.persons++
	p := &person{id: "P" + strconv.FormatInt(g.persons, 10), city: c, last: last}
	p.first = firstNames[g.first.sample(g.r)]
	if p.last == "" {
		p.last = lastNames[g.last.sample(g.r)]
	}
	if p.city == nil {
		p.city = &cities[g.city.sample(g.r)]
	}
	p.phone = newPhone(g.r, pick(g.r, p.city.areaCodes))
	p.email = g.uniqueEmail(p.first, p.last)
	p.since = windowStart + g.r.Int64N(windowSpan*4/5)
	return p
}

// uniqueEmail returns an address no other person has: two Jane Does do not
// share a mailbox, and a shared one would be a false link in the truth.
func (g *coffeeGen) uniqueEmail(first, last string) string {
	local := emailLocal(g.r, first, last)
	for {
		e := local + "@" + emailDomains[g.dom.sample(g.r)]
		before := len(g.emails)
		g.emails.addEmail(e)
		if len(g.emails) > before {
			return e
		}
		local += strconv.Itoa(g.r.IntN(10))
	}
}

func (g *coffeeGen) household(size int) {
	owner := g.newPerson(nil, "")
	members := []*person{owner}
	if size == 2 {
		last := owner.last
		if g.r.chance(0.2) {
			last = "" // kept their own name
		}
		partner := g.newPerson(owner.city, last)
		if g.r.chance(g.opt.SharedPhoneShare) {
			partner.phone = owner.phone // the home landline
		}
		members = append(members, partner)
	}
	for _, p := range members {
		member := g.r.chance(g.opt.LoyaltyShare)
		shopper := g.r.chance(g.opt.EcommerceShare)
		if member {
			g.enrol(p)
		}
		if shopper {
			g.openAccount(p)
		}
		if g.r.chance(g.opt.WebShare) || (!member && !shopper) {
			g.browse(p)
		}
		g.shop(p)
	}
	if size == 2 && len(owner.devices) > 0 && len(members[1].loyaltyIDs) > 0 && g.r.chance(g.opt.SharedDeviceShare) {
		// The partner signs in on the owner's laptop: one anonymous ID now
		// co-occurs with two people's loyalty IDs. The truth keeps the
		// device with its owner.
		g.st.SharedDevices++
		g.session(owner.devices[0], members[1], g.after(members[1].since), 1+g.r.geometric(2), 0)
	}
}

// emit ends the row built in b, writes it to f and keeps b's storage for
// the next row.
func (g *coffeeGen) emit(f *csvFile, b []byte) {
	b = append(b, '\n')
	f.write(b)
	g.row = b
}

// after returns a random moment between t and the end of the window.
func (g *coffeeGen) after(t int64) int64 {
	return t + g.r.Int64N(max(1, windowStart+windowSpan-t))
}

// anonymousVisitor is someone who browses and never becomes a customer.
func (g *coffeeGen) anonymousVisitor() {
	g.persons++
	p := &person{id: "P" + strconv.FormatInt(g.persons, 10)}
	p.since = windowStart + g.r.Int64N(windowSpan*4/5)
	g.browse(p)
}

// nameVariant is the first name as a row shows it: sometimes a nickname,
// sometimes stripped of accents or mistyped.
func (g *coffeeGen) firstName(p *person) string {
	name := p.first
	if nicks := nicknames[name]; nicks != nil && g.r.chance(g.opt.NicknameShare) {
		name = pick(g.r, nicks)
	}
	return g.spell(name)
}

// spell applies the per-value corruption every name goes through: accents
// dropped by some systems, and typos.
func (g *coffeeGen) spell(name string) string {
	if g.r.chance(0.3) && asciiFold.Replace(name) != name {
		name = asciiFold.Replace(name)
	}
	if g.r.chance(g.opt.TypoRate) {
		name = typo(g.r, name)
	}
	return name
}

// appendEmail appends a row's email: the given address, sometimes in
// title case, mistyped or replaced by junk. Every value emitted is counted.
func (g *coffeeGen) appendEmail(b []byte, email string, titleShare float64) []byte {
	switch {
	case g.r.chance(g.opt.JunkRate):
		email = pick(g.r, junkEmails)
	case g.r.chance(g.opt.TypoRate):
		email = typoEmail(g.r, email)
	case g.r.chance(titleShare):
		email = titleEmail(email)
	}
	g.idents.addEmail(email)
	return append(b, email...)
}

// appendPhone appends a row's phone in a random format, or junk.
func (g *coffeeGen) appendPhone(b []byte, p phone) []byte {
	if g.r.chance(g.opt.JunkRate) {
		switch g.r.IntN(3) {
		case 0:
			return append(b, "0000000000"...)
		case 1:
			return append(b, "N/A"...)
		default:
			return b
		}
	}
	g.idents.addPhone(p)
	return appendPhone(b, p, g.r.IntN(phoneFormats))
}

func (g *coffeeGen) truthRow(source, key, personID string) {
	b := append(g.row[:0], source...)
	b = append(b, '/')
	b = append(b, key...)
	b = append(b, ',')
	b = append(b, personID...)
	g.emit(g.truth, b)
	g.st.TruthRows++
}

// enrol writes the person's loyalty row, and sometimes a second enrolment
// under a new LoyaltyID with the same email (the dedupe rule's target).
func (g *coffeeGen) enrol(p *person) {
	enrolments := 1
	if g.r.chance(g.opt.DuplicateEnrolment) {
		enrolments = 2
		g.st.DuplicateEnrolments++
	}
	updated := p.since
	for i := range enrolments {
		g.members++
		id := strconv.FormatInt(firstLoyaltyID+g.members, 10)
		p.loyaltyIDs = append(p.loyaltyIDs, id)
		g.st.DistinctIdentifiers++ // loyalty IDs are unique by construction
		updated = g.after(updated)

		b := append(g.row[:0], id...)
		b = append(b, ',')
		b = append(b, g.firstName(p)...)
		b = append(b, ',')
		b = append(b, g.spell(p.last)...)
		b = append(b, ',')
		b = g.appendEmail(b, p.email, 0.05)
		b = append(b, ',')
		if i == 0 || g.r.chance(0.5) { // a second enrolment often skips the phone
			b = g.appendPhone(b, p.phone)
		}
		b = append(b, ',')
		if !g.r.chance(0.08) {
			b = append(b, p.city.name...)
		}
		b = append(b, ',')
		b = appendTimestamp(b, updated)
		g.emit(g.loyalty, b)
		g.st.LoyaltyRows++
		g.truthRow("loyalty", id, p.id)
	}
}

// openAccount writes the person's e-commerce account, often with the
// loyalty email in another case, sometimes with another address.
func (g *coffeeGen) openAccount(p *person) {
	g.accounts++
	id := "A-" + strconv.FormatInt(firstAccountID+g.accounts, 10)
	g.st.DistinctIdentifiers++ // account IDs are unique by construction
	email := p.email
	if g.r.chance(g.opt.OtherEmailShare) {
		email = g.uniqueEmail(p.first, p.last)
	}
	b := append(g.row[:0], id...)
	b = append(b, ',')
	b = g.appendEmail(b, email, 0.3)
	b = append(b, ',')
	b = append(b, g.firstName(p)...)
	b = append(b, ',')
	b = append(b, g.spell(p.last)...)
	b = append(b, ',')
	if !g.r.chance(0.3) { // the phone is optional at checkout
		b = g.appendPhone(b, p.phone)
	}
	b = append(b, ',')
	b = appendTimestamp(b, g.after(p.since))
	g.emit(g.ecommerce, b)
	g.st.EcommerceRows++
	g.truthRow("ecommerce", id, p.id)
}

// browse gives the person devices and writes their web events; members
// sign in with their loyalty ID on most devices.
func (g *coffeeGen) browse(p *person) {
	devices := 1 + g.r.geometric(g.opt.DevicesPerVisitor-1)
	for range devices {
		id := string(appendUUID(make([]byte, 0, 36), g.r))
		p.devices = append(p.devices, id)
		g.st.WebVisitors++
		g.st.DistinctIdentifiers++ // random 122-bit IDs are unique in practice
		g.truthRow("web", id, p.id)

		events := 1 + g.r.geometric(g.opt.EventsPerDevice-1)
		signIn := -1
		if len(p.loyaltyIDs) > 0 && g.r.chance(g.opt.SignInShare) {
			signIn = g.r.IntN(events)
		}
		start := g.after(p.since)
		if signIn < 0 {
			g.session(id, nil, start, events, -1)
		} else {
			g.session(id, p, start, events, signIn)
		}
	}
}

// session writes events on one device. When member is set, the event at
// index signIn is a loyalty sign-in and every later event carries the
// member's loyalty ID, as a web analytics export does once a user is known.
func (g *coffeeGen) session(device string, member *person, at int64, events, signIn int) {
	var loyaltyID string
	if member != nil {
		loyaltyID = member.loyaltyIDs[0]
		if len(member.loyaltyIDs) > 1 && g.r.chance(0.3) {
			loyaltyID = member.loyaltyIDs[1]
		}
	}
	last := ""
	for i := range events {
		g.events++
		name := pick(g.r, webEvents)
		switch {
		case i == signIn:
			name = "Loyalty sign-in"
		case last == "Add to cart" && g.r.chance(0.4):
			name = "Checkout"
		}
		last = name

		b := strconv.AppendInt(g.row[:0], g.events, 10)
		b = append(b, ',')
		b = appendWebTimestamp(b, at)
		b = append(b, ',')
		b = append(b, device...)
		b = append(b, ',')
		switch {
		case member != nil && i >= signIn:
			b = append(b, loyaltyID...)
		case g.r.chance(g.opt.JunkRate):
			if g.r.IntN(2) == 0 {
				b = append(b, "N/A"...)
			}
		default:
			b = append(b, "--"...)
		}
		b = append(b, ',')
		b = append(b, name...)
		g.emit(g.web, b)
		g.st.WebEvents++

		// Within a visit the next click comes in seconds to minutes; a new
		// visit comes hours to weeks later.
		if g.r.chance(0.75) {
			at += 5 + g.r.Int64N(600)
		} else {
			at += 3600 + g.r.Int64N(30*86400)
		}
	}
}

// shop writes the person's point-of-sale rows: members scan their card,
// some customers pay with the store's walk-in card and give a receipt email.
func (g *coffeeGen) shop(p *person) {
	if len(p.loyaltyIDs) > 0 {
		var seen [2]bool // which of the person's cards has its POS truth row
		for range g.r.geometric(g.opt.POSPerMember) {
			card := 0
			if len(p.loyaltyIDs) > 1 && g.r.chance(0.3) {
				card = 1
			}
			id := p.loyaltyIDs[card]
			if !seen[card] {
				seen[card] = true
				g.truthRow("pos", id, p.id)
			}
			receipt := ""
			if g.r.chance(0.25) {
				receipt = p.email
			}
			g.transaction(p, id, receipt)
		}
	}
	if p.city != nil && g.r.chance(g.opt.WalkInShare) {
		if !g.walkIn {
			g.walkIn = true
			g.st.DistinctIdentifiers++
			g.truthRow("pos", walkInCard, walkInPersonID)
		}
		for range 1 + g.r.geometric(0.5) {
			receipt := p.email
			if g.r.chance(0.1) {
				receipt = ""
			}
			g.transaction(p, walkInCard, receipt)
			g.st.WalkInRows++
		}
	}
}

func (g *coffeeGen) transaction(p *person, loyaltyID, receipt string) {
	g.txns++
	c := p.city
	if g.r.chance(0.1) { // away from home
		c = &cities[g.city.sample(g.r)]
	}
	item := pick(g.r, menu)
	cents := item.cents
	items := item.item
	if g.r.chance(0.25) {
		second := pick(g.r, menu)
		if second.item == item.item {
			second = menu[0]
		}
		cents += second.cents
		items += " and " + strings.ToLower(second.item[:1]) + second.item[1:]
	}
	day := floorDiv(g.after(p.since), 86400)
	at := day*86400 + 6*3600 + g.r.Int64N(13*3600) // stores open 6:00 to 19:00

	b := append(g.row[:0], "T-"...)
	b = strconv.AppendInt(b, g.txns, 10)
	b = append(b, ",S-"...)
	b = append(b, c.storeCode...)
	b = append(b, '-')
	b = appendPad2(b, 1+g.r.IntN(c.storeCount))
	b = append(b, ',')
	b = append(b, loyaltyID...)
	b = append(b, ',')
	if receipt != "" {
		b = g.appendEmail(b, receipt, 0.1)
	}
	b = append(b, ',')
	b = appendTimestamp(b, at)
	b = append(b, ',')
	b = appendCents(b, cents)
	b = append(b, ',')
	b = append(b, items...)
	g.emit(g.pos, b)
	g.st.POSRows++
}
