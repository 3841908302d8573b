package server

import (
	"slices"

	"github.com/knit-cdp/knit/collect"
)

// The live state keeps the most recent collected activities of every
// visitor record (activitiesPerRecord): at 10,000 events a second that is
// soon millions. They are kept without a pointer of their own, so the
// garbage collector marks two arrays per record instead of tracing a
// message ID and a name string per activity (its marking competes with
// lookups for the CPU: docs/BENCHMARKS.md, issue 5).

// recordActs is one record's activities, oldest first.
type recordActs struct {
	list []liveActivity
	// text holds each activity's message ID then its name, from
	// list[0].text on; the bytes before are dropped activities', until
	// they are half of text and compacted away.
	text []byte
}

// liveActivity is an Activity as the live state keeps it: times as
// integers, strings as positions in recordActs.text, the type as an index
// in collect.Types, and no source (the state's own).
type liveActivity struct {
	ts, received   unixTime
	text           uint32 // where the message ID starts in text; the name follows it
	idLen, nameLen uint32
	typ            uint8
}

// newActivity is an activity on its way in (prepare builds it outside the
// lock).
type newActivity struct {
	id, name     string
	typ          uint8 // index in collect.Types
	ts, received unixTime
}

// appendActivity adds an activity to a record's list; the caller holds the
// write lock, or the read lock and actsMu. It reports whether the oldest
// activities were dropped to make room.
func (s *state) appendActivity(rec int32, a newActivity) (trimmed bool) {
	ra := s.acts[rec]
	if ra.list == nil {
		// Most visitors stay for a few events: room for four from the
		// start saves the garbage of growing by one, two, four.
		ra.list, ra.text = make([]liveActivity, 0, 4), make([]byte, 0, 4*(len(a.id)+len(a.name)))
	}
	ra.list = append(ra.list, liveActivity{ts: a.ts, received: a.received, text: uint32(len(ra.text)),
		idLen: uint32(len(a.id)), nameLen: uint32(len(a.name)), typ: a.typ})
	ra.text = append(append(ra.text, a.id...), a.name...)
	if len(ra.list) > activitiesPerRecord {
		ra.list = slices.Delete(ra.list, 0, len(ra.list)-activitiesPerRecord)
		trimmed = true
		if dead := ra.list[0].text; int(dead) > len(ra.text)/2 {
			ra.text = append([]byte(nil), ra.text[dead:]...)
			for i := range ra.list {
				ra.list[i].text -= dead
			}
		}
	}
	s.acts[rec] = ra
	return trimmed
}

// activity returns the API's form of a record's live activity.
func (s *state) activity(ra *recordActs, a *liveActivity) Activity {
	id := ra.text[a.text : a.text+a.idLen]
	name := ra.text[a.text+a.idLen : a.text+a.idLen+a.nameLen]
	return Activity{ID: string(id), Type: collect.Types[a.typ], Name: string(name), Timestamp: a.ts.time(),
		ReceivedAt: a.received.time(), Source: s.source}
}

// activitiesOf returns the live activities of a cluster's members; the
// caller holds the read lock.
func (s *state) activitiesOf(root int32) []Activity {
	var out []Activity
	s.actsMu.RLock()
	defer s.actsMu.RUnlock()
	for _, m := range s.live.Members(root) {
		ra := s.acts[m]
		for i := range ra.list {
			out = append(out, s.activity(&ra, &ra.list[i]))
		}
	}
	return out
}
