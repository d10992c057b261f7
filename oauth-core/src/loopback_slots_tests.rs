use super::*;

fn admitted(a: Admission) -> (ConnectionId, Option<ConnectionId>) {
    match a {
        Admission::Admit { id, evict } => (id, evict),
        Admission::Refuse => panic!("refused"),
    }
}

#[test]
fn admits_up_to_the_cap_without_evicting() {
    let mut t = ConnectionTable::new(3);
    for _ in 0..3 {
        assert_eq!(admitted(t.admit()).1, None);
    }
    assert_eq!(t.len(), 3);
}

#[test]
fn a_full_table_evicts_the_oldest_idle_connection() {
    let mut t = ConnectionTable::new(3);
    let a = admitted(t.admit()).0;
    let b = admitted(t.admit()).0;
    let c = admitted(t.admit()).0;
    let (d, evicted) = admitted(t.admit());
    assert_eq!(evicted, Some(a));
    assert!(!t.contains(a) && t.contains(b) && t.contains(c) && t.contains(d));
    // The evicted connection's adapter learns it on its next phase change.
    assert!(!t.advance(a, Phase::Answering));
    assert_eq!(t.len(), 3);
}

#[test]
fn answering_connections_are_never_evicted_and_lingering_go_first() {
    let mut t = ConnectionTable::new(3);
    let a = admitted(t.admit()).0;
    let b = admitted(t.admit()).0;
    let c = admitted(t.admit()).0;
    assert!(t.advance(a, Phase::Answering));
    assert!(t.advance(c, Phase::Lingering));
    // c lingers: evicted before the older idle b.
    assert_eq!(admitted(t.admit()).1, Some(c));
    // Then the oldest idle one, skipping the answering a.
    assert_eq!(admitted(t.admit()).1, Some(b));
    assert!(t.contains(a));
}

#[test]
fn refuses_only_when_every_slot_is_answering() {
    let mut t = ConnectionTable::new(2);
    let a = admitted(t.admit()).0;
    let b = admitted(t.admit()).0;
    assert!(t.advance(a, Phase::Answering));
    assert!(t.advance(b, Phase::Answering));
    assert_eq!(t.admit(), Admission::Refuse);
    t.release(a);
    t.release(a); // idempotent
    assert_eq!(admitted(t.admit()).1, None);
    assert_eq!(t.len(), 2);
}

/// The issue-15 scenario in the abstract: however many idle connections arrived first, the
/// callback is admitted, and it keeps its slot while it is answered, whatever arrives next.
#[test]
fn idle_floods_never_starve_the_callback() {
    for idle in [0, 1, 127, 128, 129, 500, 5000] {
        let mut t = ConnectionTable::default();
        for _ in 0..idle {
            admitted(t.admit());
        }
        let (callback, _) = admitted(t.admit());
        assert!(t.advance(callback, Phase::Answering), "{idle}");
        for _ in 0..1000 {
            admitted(t.admit());
        }
        assert!(t.contains(callback), "{idle}");
        assert!(t.len() <= MAX_CONNECTIONS);
    }
}

#[test]
fn capacity_is_at_least_one() {
    let mut t = ConnectionTable::new(0);
    let (a, _) = admitted(t.admit());
    assert_eq!(admitted(t.admit()).1, Some(a));
    assert!(!t.is_empty());
}
