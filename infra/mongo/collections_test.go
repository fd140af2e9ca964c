package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/infra/config"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections"
)

// TestOpenPreparesEveryReadModel: on the embedded store, every
// projection's collection exists once the store is open, before any
// write: none is created by its first write, in the middle of an import.
func TestOpenPreparesEveryReadModel(t *testing.T) {
	if server == nil {
		t.Skip("prepares collections only on the embedded store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Config{Database: fmt.Sprintf("prep%d_%d", os.Getpid(), dbSeq.Add(1))}
	st, err := imongo.Open(ctx, cfg, slog.New(slog.DiscardHandler), server, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.DB.Drop(context.Background()); st.Close(context.Background()) }()
	have, err := st.DB.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range projections.Names() {
		if !slices.Contains(have, name) {
			t.Errorf("read model %q is not prepared (the store has %v)", name, have)
		}
	}
}
