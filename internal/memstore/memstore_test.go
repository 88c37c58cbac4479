package memstore_test

import (
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

func TestConformance(t *testing.T) {
	countertest.Run(t, func(*testing.T) counter.Store { return memstore.New() })
}
