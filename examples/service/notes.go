package main

import (
	"context"
	"fmt"

	"github.com/protoql/protoql/examples/service/notespb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

// pageSize is how many notes ListNotes returns at most.
const pageSize = 20

// notesServer implements NotesService on protoql's typed table.
type notesServer struct {
	notespb.UnimplementedNotesServiceServer
	notes notespb.NoteTable
	// list is compiled once; the author and page token are variables, so
	// user input never becomes query text.
	list *query.Query
}

func newNotesServer(db *runtime.DB) (*notesServer, error) {
	notes, err := notespb.NewNoteTable(db)
	if err != nil {
		return nil, err
	}
	list, err := notes.Compile(fmt.Sprintf(`Note[$author](first: %d, after: $after) { note_id, title }`, pageSize))
	if err != nil {
		return nil, err
	}
	return &notesServer{notes: notes, list: list}, nil
}

// CreateNote stores the note. A note without its key fields is refused by
// the runtime (InvalidArgument through server.Status).
func (s *notesServer) CreateNote(ctx context.Context, req *notespb.CreateNoteRequest) (*notespb.CreateNoteResponse, error) {
	if err := s.notes.Put(ctx, req.GetNote()); err != nil {
		return nil, server.Status(err)
	}
	return &notespb.CreateNoteResponse{}, nil
}

// GetNote answers NotFound for a missing note, through server.Status.
func (s *notesServer) GetNote(ctx context.Context, req *notespb.GetNoteRequest) (*notespb.GetNoteResponse, error) {
	n, err := s.notes.Get(ctx, notespb.NoteKey{Author: req.GetAuthor(), NoteId: req.GetNoteId()})
	if err != nil {
		return nil, server.Status(err)
	}
	return &notespb.GetNoteResponse{Note: n}, nil
}

// ListNotes returns a page of the author's notes. A forged page token is a
// query error at the after: argument: InvalidArgument.
func (s *notesServer) ListNotes(ctx context.Context, req *notespb.ListNotesRequest) (*notespb.ListNotesResponse, error) {
	resp := &notespb.ListNotesResponse{}
	vars := map[string]any{"author": req.GetAuthor(), "after": req.GetPageToken()}
	for row, err := range s.notes.Query(ctx, s.list, vars) {
		if err != nil {
			return nil, server.Status(err)
		}
		resp.Notes = append(resp.Notes, row.Msg)
		resp.NextPageToken = row.Cursor()
	}
	if len(resp.Notes) < pageSize {
		resp.NextPageToken = ""
	}
	return resp, nil
}
