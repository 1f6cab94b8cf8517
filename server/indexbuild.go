package server

import (
	"context"
	"errors"

	"github.com/protoql/protoql/runtime"
)

// WithBuildIndexes says whether Serve builds, in the background, the
// indexes that are not readable yet (the default) or leaves them to
// `protoql build-indexes` (false).
func WithBuildIndexes(on bool) Option { return func(o *Options) { o.BuildIndexes = on } }

// buildLogEvery is how many committed batches pass between two progress
// lines of one index's build.
const buildLogEvery = 64

// buildIndexes opens the DB the ProtoQLService serves and brings every
// index to readable (runtime.DB.BuildIndexes): in bounded, resumable
// batches, with progress logged, until ctx ends. Without a stored schema it
// waits until a request opens the database on one. Queries through an index
// fail with FailedPrecondition until it is done and succeed right after,
// on the same DB. Every outcome is logged; none stops the server.
func (s *Server) buildIndexes(ctx context.Context) {
	log := s.opts.Logger
	db, err := s.dbs.get(ctx)
	switch {
	case errors.Is(err, errNoSchema):
		// A schema stored later (by another process on a shared store)
		// is found by the first request after it, which opens the
		// database: build then.
		log.Info("protoql server: no schema stored yet; indexes are built once a request finds one")
		select {
		case <-s.dbs.opened:
			db = s.dbs.db.Load()
		case <-ctx.Done():
			return
		}
	case err != nil:
		if ctx.Err() == nil {
			log.Error("protoql server: opening the database to build indexes", "err", err)
		}
		return
	}
	err = db.BuildIndexesFunc(ctx, func(p runtime.IndexBuildProgress) {
		what := "building index"
		if p.Dropped {
			what = "deleting the entries of dropped index"
		}
		switch {
		case p.Done:
			log.Info("protoql server: "+what+": done", "index", p.Index, "batches", p.Batches)
		case p.Batches == 1 || p.Batches%buildLogEvery == 0:
			log.Info("protoql server: "+what, "index", p.Index, "batches", p.Batches)
		}
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		log.Info("protoql server: index build stopped; it resumes where it was at the next start")
	default:
		log.Error("protoql server: index build failed; the index stays unreadable", "err", err)
	}
}
