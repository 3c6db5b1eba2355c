/** The tools `capture synth` can write a capture of; apart from the synthesis, which loads the whole model engine, so the command line can list them cheaply. */
export const synthKinds = ["svwar", "svcrack", "register-flood", "nat-office", "iax2-guess"] as const;
export type SynthKind = (typeof synthKinds)[number];
