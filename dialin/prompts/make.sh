#!/bin/sh
# Regenerates confd's phone prompts: 8 kHz mono G.711 µ-law, headerless
# (.ul). They were made once with this script and committed, so neither
# building nor testing confd needs espeak-ng or sox.
#
#   apt-get install espeak-ng sox && sh dialin/prompts/make.sh
#
# The speech is espeak-ng's synthesis of the texts below, which the confd
# authors wrote; see the README ("Phones (SIP)") for origin and licence.
set -eu
cd "$(dirname "$0")"
say() { # name text
	espeak-ng -v en-us -s 150 -w "/tmp/confd-prompt-$1.wav" "$2"
	sox "/tmp/confd-prompt-$1.wav" -r 8000 -c 1 -e u-law -t ul "$1.ul" norm -3
	rm -f "/tmp/confd-prompt-$1.wav"
}
say pin "Please enter the conference PIN, followed by the pound key."
say bad-pin "That PIN is not correct."
say goodbye "Goodbye."
say alone "You are the only person in the conference."
say muted "You are now muted."
say unmuted "You are now unmuted."
say mute-locked "A moderator has muted you. You cannot unmute yourself."
say hand-up "Your hand is raised."
say hand-down "Your hand is lowered."
say locked "The conference is now locked."
say unlocked "The conference is now unlocked."
say all-muted "Everyone else is now muted."
say room-locked "This conference is locked."
say room-full "This conference is full."
say not-moderator "Only a moderator can do that."
say count "The number of participants is"
for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 30 40 50 60 70 80 90; do
	say "n$n" "$n"
done
say hundreds "more than ninety nine"
