package svc

// Store keeps items by name.
type Store struct {
	items map[string]int
}

type Lister interface {
	List() []string
}

func NewStore() *Store {
	return &Store{items: map[string]int{}}
}

func (s *Store) Put(name string, count int) error {
	s.items[name] = count
	return nil
}

func (s *Store) List() []string {
	out := []string{}
	for name := range s.items {
		out = append(out, name)
	}
	return out
}
