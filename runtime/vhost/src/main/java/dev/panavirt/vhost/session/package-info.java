/**
 * vhost-vdpa in session scripts: {@link dev.panavirt.vhost.session.VdpaSessionTarget} adapts a vDPA device, the
 * kernel's or the model's, to the replay engine.
 */
package dev.panavirt.vhost.session;
