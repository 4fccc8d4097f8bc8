//! Which message is which: a run's messages are numbered so that the id in
//! a nonce alone says the round, the publisher and (unicast) the one
//! recipient, and who else may receive it.

use super::args::{Audience, Mode};

/// How a receipt relates to its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client was meant to receive it.
    Intended,
    /// The publisher got its own message back, which it was not meant to.
    Echo,
    /// Someone the message was not meant for: cross-talk.
    Stray,
}

/// The numbering of one run's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Broadcast or unicast.
    pub mode: Mode,
    /// Who must receive a broadcast.
    pub audience: Audience,
    /// Clients (N).
    pub clients: u32,
    /// Rounds (M).
    pub rounds: u32,
}

impl Layout {
    /// How many message ids there are: one per round (broadcast), or one
    /// per round and recipient slot (unicast: id = round × N + recipient).
    pub fn ids(&self) -> u64 {
        match self.mode {
            Mode::Broadcast => u64::from(self.rounds),
            Mode::Unicast => u64::from(self.rounds) * u64::from(self.clients),
        }
    }

    /// The round of message `id`.
    pub fn round(&self, id: u64) -> u32 {
        match self.mode {
            Mode::Broadcast => id as u32,
            Mode::Unicast => (id / u64::from(self.clients)) as u32,
        }
    }

    /// Who publishes round `round`: client round mod N.
    pub fn publisher_of_round(&self, round: u32) -> u32 {
        round % self.clients
    }

    /// Who publishes message `id`.
    pub fn publisher(&self, id: u64) -> u32 {
        self.publisher_of_round(self.round(id))
    }

    /// The one recipient of a unicast message.
    pub fn recipient(&self, id: u64) -> Option<u32> {
        (self.mode == Mode::Unicast).then(|| (id % u64::from(self.clients)) as u32)
    }

    /// The unicast message of `round` for `to`.
    pub fn unicast_id(&self, round: u32, to: u32) -> u64 {
        u64::from(round) * u64::from(self.clients) + u64::from(to)
    }

    /// True when `id` names a message this run can send (a unicast slot
    /// addressed to its own publisher is never sent).
    pub fn is_valid(&self, id: u64) -> bool {
        id < self.ids() && self.recipient(id) != Some(self.publisher(id))
    }

    /// How client `client` receiving message `id` counts.
    pub fn role(&self, id: u64, client: u32) -> Role {
        let publisher = self.publisher(id);
        match (self.mode, self.recipient(id)) {
            (Mode::Unicast, Some(to)) if to == client => Role::Intended,
            (Mode::Unicast, _) if client == publisher => Role::Echo,
            (Mode::Unicast, _) => Role::Stray,
            (Mode::Broadcast, _) if client == publisher && self.audience == Audience::Others => Role::Echo,
            (Mode::Broadcast, _) => Role::Intended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(mode: Mode, audience: Audience) -> Layout {
        Layout { mode, audience, clients: 4, rounds: 6 }
    }

    #[test]
    fn broadcast_rounds_rotate_publishers() {
        let l = layout(Mode::Broadcast, Audience::All);
        assert_eq!((l.ids(), l.publisher(0), l.publisher(5)), (6, 0, 1));
        assert_eq!(l.role(5, 1), Role::Intended);
        assert_eq!(layout(Mode::Broadcast, Audience::Others).role(5, 1), Role::Echo);
    }

    #[test]
    fn unicast_ids_name_round_and_recipient() {
        let l = layout(Mode::Unicast, Audience::All);
        let id = l.unicast_id(5, 3);
        assert_eq!((l.round(id), l.publisher(id), l.recipient(id)), (5, 1, Some(3)));
        assert_eq!(l.role(id, 3), Role::Intended);
        assert_eq!(l.role(id, 1), Role::Echo);
        assert_eq!(l.role(id, 0), Role::Stray);
        assert!(!l.is_valid(l.unicast_id(5, 1)) && !l.is_valid(l.ids()));
    }
}
