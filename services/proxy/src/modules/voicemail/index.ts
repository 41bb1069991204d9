export { name, init, type VoicemailSettings } from './voicemail-module.js';
