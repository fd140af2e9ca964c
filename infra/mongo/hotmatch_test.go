package mongo_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/queries"
)

// TestHotListsMatchStore: every list of a read model held whole in memory
// answers exactly what the store answers, for random documents of every
// shape a field may take (missing, null, other types, arrays, nested
// documents, text that case folding treats in odd ways) and random
// filters of every kind a query builds (equal, not equal, alternatives,
// not in, a search term, active only, a cursor, a limit), while documents
// are rewritten between lists, whether memory holds the read model whole
// or it is larger than memory holds (and lists walk its ids). With
// documents of the read models' own shapes, every list after the first is
// answered without reading the whole collection (but one without a limit
// of a read model larger than memory).
func TestHotListsMatchStore(t *testing.T) {
	if server == nil {
		t.Skip("memory mirrors the embedded store's filters, the only store whose lists it serves")
	}
	for _, c := range []struct {
		odd  bool
		held int
	}{{false, 4096}, {true, 4096}, {false, 7}, {true, 7}} {
		odd := c.odd
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("odd=%v/held=%d/seed=%d", odd, c.held, seed), func(t *testing.T) {
				defer imongo.SetHotLimit(hotColl, c.held)()
				rng := rand.New(rand.NewPCG(seed, 4242))
				ctx := testCtx(t)
				client, scans := countingScans(t)
				db := client.Database(newDB(t).Name())
				mem, store := imongo.NewReadModels(db), imongo.NewReadModels(db)
				mem.ServeHot(imongo.HotTrusted)
				g := docGen{rng: rng, odd: odd}
				ids := g.ids(5 + rng.IntN(40))
				for _, id := range ids {
					if err := mem.Store(ctx, hotColl, id, g.doc(id), 0); err != nil {
						t.Fatal(err)
					}
				}
				for list := range 60 {
					if list > 0 && rng.IntN(2) == 0 { // a rewrite, which memory takes as the store does
						id := ids[rng.IntN(len(ids))]
						var cur bson.M
						_, rev, err := mem.Load(ctx, hotColl, id, &cur)
						if err != nil {
							t.Fatal(err)
						}
						if err := mem.Store(ctx, hotColl, id, g.doc(id), rev); err != nil {
							t.Fatal(err)
						}
					}
					f := g.filter(ids)
					before := scans.Load()
					var m, s []bson.D
					if err := mem.Find(ctx, hotColl, f, &m); err != nil {
						t.Fatal(err)
					}
					made := scans.Load() - before
					if err := store.Find(ctx, hotColl, f, &s); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(m, s) {
						t.Fatalf("list %d, Find(%+v):\n memory %v\n store  %v", list, f, m, s)
					}
					walked := f.Limit > 0 // a list without a limit of a read model larger than memory is the store's
					if !odd && list > 0 && (walked || c.held > len(ids)) && made > 0 {
						t.Fatalf("list %d, Find(%+v) of %d documents (memory holds %d) read the whole collection %d times, want none", list, f, len(ids), c.held, made)
					}
				}
			})
		}
	}
}

// docGen makes random read-model documents and filters over a few fields
// and values, so that filters often match; odd adds the shapes no read
// model writes (a nested document where a string is, a path through an
// array, a BSON regex), which memory leaves to the store.
type docGen struct {
	rng *rand.Rand
	odd bool
}

func (g docGen) pick(vals ...any) any { return vals[g.rng.IntN(len(vals))] }

// text is a short string of letters that case folding treats unevenly
// (Kelvin sign, long s, sharp s, final sigma, title-case digraphs),
// spaces, and characters special in a pattern.
func (g docGen) text() string {
	runes := []string{"a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "ß", "ẞ", "σ", "ς", "Σ", "ǅ", "ǆ", "é", "É", " ", ".", "(", "*", "x", "\\", "$"}
	var b strings.Builder
	for range 1 + g.rng.IntN(6) {
		b.WriteString(runes[g.rng.IntN(len(runes))])
	}
	return b.String()
}

func (g docGen) ids(n int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		id := fmt.Sprint(g.pick("a", "B", "é", "z", "10", "9", "ä", "checkpoint:x:"), g.rng.IntN(50))
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// absent marks a field left out of a document.
type absent struct{}

func (g docGen) doc(id string) bson.D {
	fields := map[string][]any{
		"status":        {absent{}, "active", "draft", "withdrawn", "accepted", "Draft", "", nil, int32(1), bson.A{"draft", "x"}, bson.A{}},
		"roles":         {absent{}, bson.A{}, bson.A{"student"}, bson.A{"student", "supervisor"}, "student", bson.A{int32(1), "examiner"}},
		"profile":       {absent{}, bson.D{{Key: "code", Value: "C1"}}, bson.D{{Key: "code", Value: "C2"}}, bson.D{{Key: "code", Value: bson.A{"C1", "C2"}}}, bson.D{}, bson.D{{Key: "code", Value: nil}}},
		"active":        {absent{}, true, false, bson.A{true}, bson.A{false}, int32(1), "true", nil},
		"owner_id":      {absent{}, "u1", "u2", "u3", bson.A{"u1"}},
		"supervisor_id": {absent{}, "u1", "u2", "u3", ""},
	}
	if g.odd {
		fields["profile"] = append(fields["profile"], "C1", bson.A{bson.D{{Key: "code", Value: "C1"}}}, int32(7))
		fields["name"] = []any{bson.Regex{Pattern: "a", Options: "i"}}
	}
	d := bson.D{{Key: "_id", Value: id}}
	for _, k := range []string{"status", "roles", "profile", "active", "owner_id", "supervisor_id", "name", "email"} {
		var v any
		switch k {
		case "name", "email":
			v = g.pick(absent{}, g.text(), g.text(), bson.A{g.text(), g.text()}, int32(3))
			if odd := fields[k]; odd != nil && g.rng.IntN(8) == 0 {
				v = odd[0]
			}
		default:
			v = g.pick(fields[k]...)
		}
		if _, skip := v.(absent); !skip {
			d = append(d, bson.E{Key: k, Value: v})
		}
	}
	return d
}

func (g docGen) filter(ids []string) queries.Filter {
	f := queries.Filter{Equal: map[string]string{}, NotEqual: map[string]string{}}
	statuses := []string{"active", "draft", "withdrawn", "accepted", "Draft", "", "x"}
	if g.rng.IntN(3) == 0 {
		f.Equal["status"] = statuses[g.rng.IntN(len(statuses))]
	}
	if g.rng.IntN(3) == 0 {
		f.Equal["roles"] = g.pick("student", "supervisor", "examiner").(string)
	}
	if g.rng.IntN(4) == 0 {
		f.Equal["profile.code"] = g.pick("C1", "C2", "").(string)
	}
	if g.rng.IntN(3) == 0 {
		f.NotEqual["status"] = statuses[g.rng.IntN(len(statuses))]
	}
	for range g.rng.IntN(4) {
		var m queries.Match
		if g.rng.IntN(4) > 0 {
			m.Equal = map[string]string{g.pick("owner_id", "supervisor_id").(string): g.pick("u1", "u2", "u3", "").(string)}
		}
		if g.rng.IntN(2) == 0 {
			m.NotIn = map[string][]string{"status": {statuses[g.rng.IntN(len(statuses))], statuses[g.rng.IntN(len(statuses))]}}
		}
		f.AnyOf = append(f.AnyOf, m)
	}
	if g.rng.IntN(3) == 0 {
		f.Search = []string{"name", "email"}[:1+g.rng.IntN(2)]
		f.Term = g.text()
		if g.rng.IntN(2) == 0 {
			f.Term = string([]rune(f.Term)[:1])
		}
	}
	f.ActiveOnly = g.rng.IntN(2) == 0
	switch g.rng.IntN(3) {
	case 0:
		f.After = ids[g.rng.IntN(len(ids))]
	case 1:
		f.After = g.pick("a", "B5", "z", "\u00e4", "checkpoint:", "\xff").(string)
	}
	f.Limit = g.rng.IntN(10)
	return f
}
